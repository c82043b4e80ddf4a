// The CIFAR-10 binary reader: any bytes as one data_batch file.
#include "data/dataset.h"
#include "fuzz.h"

RENORM_FUZZ_TARGET({
  const renorm::Dataset d = renorm::parse_cifar10(input, "fuzz.bin");
  renorm::fuzz::require(d.pixels.size() == size_t(d.size()) * size_t(d.image_bytes()), "pixels do not match the labels");
  for (uint8_t label : d.labels) renorm::fuzz::require(label < 10, "a label outside 0-9 was accepted");
})
