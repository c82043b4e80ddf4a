// Shape: rank 0..5, row-major, images NHWC.
#pragma once
#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>

namespace renorm {

class Shape {
 public:
  static constexpr int kMaxRank = 5;
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);
  template <class It>
  Shape(It first, It last) {
    for (; first != last; ++first) push_back(*first);
  }
  int rank() const { return rank_; }
  int64_t operator[](int i) const { return dims_[i < 0 ? i + rank_ : i]; }
  int64_t numel() const;  // ShapeError when the count does not fit in int64_t
  // False when a dimension is -1 (allowed only as reshape's "infer this one").
  bool valid() const;
  void push_back(int64_t d);
  bool operator==(const Shape& o) const;
  bool operator!=(const Shape& o) const { return !(*this == o); }
  std::string str() const;  // "[2,3,4]"
  const int64_t* begin() const { return dims_.data(); }
  const int64_t* end() const { return dims_.data() + rank_; }

 private:
  std::array<int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

}  // namespace renorm
