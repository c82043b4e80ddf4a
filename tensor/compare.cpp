#include "tensor/compare.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "runtime/error.h"

namespace renorm {

namespace {
template <class E>
Comparison compare_values(const std::vector<E>& e, const std::vector<float>& a) {
  if (e.size() != a.size())
    throw ShapeError("compare: " + std::to_string(e.size()) + " expected values, " + std::to_string(a.size()) + " actual");
  Comparison c;
  double diff = 0.0, norm = 0.0;
  for (size_t i = 0; i < e.size(); ++i) {
    if (!std::isfinite(e[i]) || !std::isfinite(a[i])) ++c.non_finite;
    diff += (double(a[i]) - e[i]) * (double(a[i]) - e[i]);
    norm += double(e[i]) * e[i];
  }
  c.normalized_error = norm == 0.0 ? std::sqrt(diff) : std::sqrt(diff) / std::sqrt(norm);
  return c;
}
}  // namespace

Comparison compare(const std::vector<float>& e, const std::vector<float>& a) { return compare_values(e, a); }
Comparison compare(const std::vector<double>& e, const std::vector<float>& a) { return compare_values(e, a); }

Comparison compare(const Tensor& expected, const Tensor& actual) {
  if (expected.shape() != actual.shape())
    throw ShapeError("compare: shapes " + expected.shape().str() + " and " + actual.shape().str() + " differ");
  return compare(expected.to_vector(), actual.to_vector());
}

}  // namespace renorm
