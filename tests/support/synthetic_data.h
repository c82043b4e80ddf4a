// Small CIFAR-10-format files that tests generate for themselves: class k is an 8x8 bright block at
// a class-specific place and channel over noise, so a CNN learns it in a few dozen steps.
#pragma once
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace renorm::test {

inline std::vector<uint8_t> synthetic_records(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> out;
  for (int i = 0; i < n; ++i) {
    const int k = i % 10;
    out.push_back(uint8_t(k));
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x) {
          const bool block = c == k % 3 && y / 8 == (k / 3) % 4 && x / 8 == k % 4;
          out.push_back(uint8_t(block ? 200 + rng() % 56 : rng() % 120));
        }
  }
  return out;
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

// A CIFAR-10 folder with `per_file` training records in each of the 5 files and `test` test records.
inline std::string make_synthetic_cifar(const std::string& name, int per_file, int test) {
  const std::string dir = (std::filesystem::temp_directory_path() / ("renorm-test-" + name)).string();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  for (int f = 1; f <= 5; ++f)
    write_bytes(dir + "/data_batch_" + std::to_string(f) + ".bin", synthetic_records(per_file, f));
  write_bytes(dir + "/test_batch.bin", synthetic_records(test, 99));
  return dir;
}

}  // namespace renorm::test
