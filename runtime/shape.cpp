#include "runtime/shape.h"

#include "runtime/checked.h"
#include "runtime/error.h"

namespace renorm {

Shape::Shape(std::initializer_list<int64_t> dims) {
  for (int64_t d : dims) push_back(d);
}

void Shape::push_back(int64_t d) {
  if (rank_ == kMaxRank) throw ShapeError("Shape: rank above " + std::to_string(kMaxRank) + " in " + str());
  if (d < -1) throw ShapeError("Shape: negative dimension " + std::to_string(d) + " after " + str());
  dims_[rank_++] = d;
}

bool Shape::valid() const {
  for (int i = 0; i < rank_; ++i)
    if (dims_[i] < 0) return false;
  return true;
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < rank_; ++i) {
    const auto m = checked_mul(n, dims_[i]);
    if (!m) throw ShapeError("Shape: the element count of " + str() + " overflows 64 bits");
    n = *m;
  }
  return n;
}

bool Shape::operator==(const Shape& o) const {
  if (rank_ != o.rank_) return false;
  for (int i = 0; i < rank_; ++i)
    if (dims_[i] != o.dims_[i]) return false;
  return true;
}

std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < rank_; ++i) {  // appended piece by piece: "," + std::string trips GCC 12's bogus -Wrestrict (GCC PR 105651)
    if (i) s += ',';
    s += std::to_string(dims_[i]);
  }
  return s + "]";
}

}  // namespace renorm
