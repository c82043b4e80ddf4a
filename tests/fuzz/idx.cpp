// The IDX reader (Fashion-MNIST, inflated): the input's first byte picks where the image file ends and
// the label file begins.
#include "data/dataset.h"
#include "fuzz.h"

RENORM_FUZZ_TARGET({
  if (input.empty()) return 0;
  const size_t split = std::min(input.size() - 1, size_t(uint8_t(input[0])));
  const std::string images = input.substr(1, split), labels = input.substr(1 + split);
  const renorm::Dataset d = renorm::parse_idx(images, labels, "fuzz-images", "fuzz-labels");
  renorm::fuzz::require(d.pixels.size() == size_t(d.size()) * size_t(d.image_bytes()), "pixels do not match the labels");
})
