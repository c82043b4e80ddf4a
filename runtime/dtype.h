// The element types of tensor storage. float32: what every op computes in. bfloat16 (1 sign, 8 exponent,
// 7 mantissa bits: float32's range, 2^-8 relative precision): a storage type for activations and the
// operands of convolutions and GEMMs under mixed precision (issue 25); values are widened to float32 in
// registers and rounded back to nearest, ties to even (runtime/bf16.h). A tensor carries its dtype; an
// op given one it does not take throws DTypeError naming the op and the dtypes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "runtime/bf16.h"
#include "runtime/named_enum.h"

namespace renorm {

enum class DType : uint8_t { F32, BF16 };
const EnumNames<DType>& enum_names(DType);  // "float32", "bfloat16" (flags, messages)

constexpr size_t dtype_size(DType d) { return d == DType::BF16 ? 2 : 4; }
// The safetensors header's name of each dtype: "F32", "BF16".
const char* safetensors_dtype(DType d);

// f(T{}) with T the storage type of dtype `d` (float or bf16_bits): an op that takes either storage
// writes its dispatch once, `visit_storage(x.dtype(), [&](auto t) { using T = decltype(t); ... })`, or
// with RENORM_DISPATCH_STORAGE (kernels/detail/dispatch.h).
template <class F>
decltype(auto) visit_storage(DType d, F&& f) {
  if (d == DType::BF16) return f(bf16_bits{});
  return f(float{});
}

}  // namespace renorm
