// The one rule for sizes and offsets that come from outside (a file, a flag): every product is computed
// with an overflow check, no offset is added to a base before it is compared, and every range is checked
// against the bytes really there before it is used. Users: the safetensors reader (shapes, data_offsets),
// the IDX reader (image counts), Shape::numel, the step count of --epochs. (JSON numbers become settings
// only inside their type's range: train/config.cpp.)
#pragma once
#include <cstdint>
#include <optional>

namespace renorm {

// a·b, or nothing when the exact result does not fit in T.
template <class T>
std::optional<T> checked_mul(T a, T b) {
  T r;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

// [begin, end) lies within [0, size) and begin <= end: no sum is formed, so nothing can wrap.
constexpr bool range_within(uint64_t begin, uint64_t end, uint64_t size) { return begin <= end && end <= size; }

}  // namespace renorm
