#include "data/dataset.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/checked.h"
#include "runtime/error.h"
#include "runtime/file_io.h"

namespace renorm {

namespace {
constexpr int64_t kCifarRecord = 3073;

// A gzip file's contents, inflated in memory, at most kMaxDatasetBytes of them (a gzip bomb is refused).
std::string read_gzip(const std::string& path) {
  const std::string packed = read_file(path, "gzip file", UINT32_MAX);  // zlib counts input in 32 bits
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) throw IoError(path + ": zlib could not start");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(packed.data()));
  z.avail_in = uInt(packed.size());
  std::string out;
  char buf[1 << 16];
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
    if (out.size() > kMaxDatasetBytes) rc = Z_MEM_ERROR;
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END)
    throw IoError(path + (out.size() > kMaxDatasetBytes ? ": inflates to more than " + std::to_string(kMaxDatasetBytes) + " bytes"
                                                        : ": not a complete gzip stream"));
  return out;
}

uint32_t be32(const std::string& b, size_t at) {
  const auto u = [&](size_t i) { return uint32_t(static_cast<unsigned char>(b[at + i])); };
  return (u(0) << 24) | (u(1) << 16) | (u(2) << 8) | u(3);
}

const std::vector<std::string> kCifarNames = {"airplane", "automobile", "bird", "cat", "deer",
                                              "dog", "frog", "horse", "ship", "truck"};
const std::vector<std::string> kFashionNames = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

void append(Dataset& into, const Dataset& from) {
  into.height = from.height;
  into.width = from.width;
  into.channels = from.channels;
  into.pixels.insert(into.pixels.end(), from.pixels.begin(), from.pixels.end());
  into.labels.insert(into.labels.end(), from.labels.begin(), from.labels.end());
}
}  // namespace

Dataset parse_cifar10(const std::string& bytes, const std::string& path) {
  if (bytes.empty() || bytes.size() % kCifarRecord != 0)
    throw IoError(path + ": " + std::to_string(bytes.size()) + " bytes is not a whole number of " +
                  std::to_string(kCifarRecord) + "-byte CIFAR-10 records");
  Dataset d;
  d.height = d.width = 32;
  d.channels = 3;
  d.class_names = kCifarNames;
  const int64_t n = static_cast<int64_t>(bytes.size()) / kCifarRecord;
  d.labels.resize(n);
  d.pixels.resize(n * 3072);
  for (int64_t i = 0; i < n; ++i) {
    const auto* rec = reinterpret_cast<const uint8_t*>(bytes.data()) + i * kCifarRecord;
    if (rec[0] >= 10)
      throw IoError(path + ": record " + std::to_string(i) + " has label " + std::to_string(rec[0]) + " (must be 0-9)");
    d.labels[i] = rec[0];
    uint8_t* img = d.pixels.data() + i * 3072;
    for (int p = 0; p < 1024; ++p)  // planes R, G, B -> interleaved HWC
      for (int c = 0; c < 3; ++c) img[p * 3 + c] = rec[1 + c * 1024 + p];
  }
  return d;
}

Dataset load_cifar10_file(const std::string& path) {
  return parse_cifar10(read_file(path, "CIFAR-10 binary file", kMaxDatasetBytes), path);
}

Dataset load_cifar10(const std::string& dir, bool train) {
  if (!std::filesystem::is_directory(dir)) throw IoError(dir + ": CIFAR-10 data folder does not exist");
  Dataset d;
  for (const std::string& name : dataset_files(DatasetKind::Cifar10, train)) append(d, load_cifar10_file(dir + "/" + name));
  d.class_names = kCifarNames;
  const std::string meta_path = dir + "/batches.meta.txt";
  if (!std::filesystem::exists(meta_path)) return d;
  std::istringstream meta(read_file(meta_path, "CIFAR-10 class names", 1 << 16));
  std::vector<std::string> names;
  for (std::string line; std::getline(meta, line);)
    if (!line.empty()) names.push_back(line);
  if (names.size() == 10) d.class_names = names;
  return d;
}

Dataset parse_idx(const std::string& img, const std::string& lab, const std::string& ipath, const std::string& lpath) {
  if (img.size() < 16 || be32(img, 0) != 2051) throw IoError(ipath + ": not an IDX image file (magic 2051)");
  if (lab.size() < 8 || be32(lab, 0) != 2049) throw IoError(lpath + ": not an IDX label file (magic 2049)");
  const uint64_t n = be32(img, 4), rows = be32(img, 8), cols = be32(img, 12);
  if (n == 0 || rows == 0 || cols == 0)
    throw IoError(ipath + ": header says " + std::to_string(n) + " images of " + std::to_string(rows) + "x" +
                  std::to_string(cols) + " (every count must be >= 1)");
  const auto pixels = checked_mul(n, rows * cols);  // rows·cols < 2^64: each is < 2^32
  if (!pixels || *pixels != img.size() - 16)
    throw IoError(ipath + ": " + std::to_string(img.size() - 16) + " pixel bytes, but the header says " +
                  std::to_string(n) + " images of " + std::to_string(rows) + "x" + std::to_string(cols));
  if (be32(lab, 4) != n || lab.size() - 8 != n)
    throw IoError(lpath + ": label count does not match the " + std::to_string(n) + " images of " + ipath);
  Dataset d;
  d.height = int64_t(rows);
  d.width = int64_t(cols);
  d.channels = 1;
  d.class_names = kFashionNames;
  d.pixels.assign(img.begin() + 16, img.end());
  d.labels.assign(lab.begin() + 8, lab.end());
  for (uint64_t i = 0; i < n; ++i)
    if (d.labels[i] >= 10) throw IoError(lpath + ": record " + std::to_string(i) + " has label " + std::to_string(d.labels[i]));
  return d;
}

Dataset load_fashion_mnist(const std::string& dir, bool train) {
  if (!std::filesystem::is_directory(dir)) throw IoError(dir + ": Fashion-MNIST data folder does not exist");
  const std::vector<std::string> files = dataset_files(DatasetKind::FashionMnist, train);
  const std::string ipath = dir + "/" + files[0], lpath = dir + "/" + files[1];
  return parse_idx(read_gzip(ipath), read_gzip(lpath), ipath, lpath);
}

const EnumNames<DatasetKind>& enum_names(DatasetKind) {
  static const EnumNames<DatasetKind> names = {{"cifar10", DatasetKind::Cifar10}, {"fashion-mnist", DatasetKind::FashionMnist}};
  return names;
}

Dataset load_dataset(DatasetKind kind, const std::string& dir, bool train) {
  return kind == DatasetKind::Cifar10 ? load_cifar10(dir, train) : load_fashion_mnist(dir, train);
}

std::vector<std::string> dataset_files(DatasetKind kind, bool train) {
  if (kind == DatasetKind::FashionMnist) {
    const std::string prefix = train ? "train" : "t10k";
    return {prefix + "-images-idx3-ubyte.gz", prefix + "-labels-idx1-ubyte.gz"};
  }
  if (!train) return {"test_batch.bin"};
  std::vector<std::string> names;
  for (int i = 1; i <= 5; ++i) names.push_back("data_batch_" + std::to_string(i) + ".bin");
  return names;
}

std::string dataset_fingerprint(DatasetKind kind, const std::string& dir) {
  std::string out;
  for (bool train : {true, false})
    for (const std::string& name : dataset_files(kind, train)) {
      const std::string path = dir + "/" + name;
      std::error_code ec;
      const uintmax_t size = std::filesystem::file_size(path, ec);
      if (ec) throw IoError(path + ": dataset file missing or unreadable (" + ec.message() + ")");
      std::ifstream f(path, std::ios::binary);
      std::string head(size_t(std::min<uintmax_t>(size, 1 << 16)), '\0');
      if (!f.read(head.data(), std::streamsize(head.size()))) throw IoError(path + ": dataset file cannot be read");
      uint64_t h = 14695981039346656037ull;  // FNV-1a 64
      for (unsigned char ch : head) h = (h ^ ch) * 1099511628211ull;
      char hex[17];
      std::snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
      out += (out.empty() ? "" : "; ") + name + ":" + std::to_string(size) + ":" + hex;
    }
  return out;
}

Normalization Normalization::of(const Dataset& d) {
  const int64_t c = d.channels;
  std::vector<double> sum(c, 0.0), sq(c, 0.0);
  for (size_t i = 0; i < d.pixels.size(); ++i) {
    const double v = d.pixels[i] / 255.0;
    sum[i % c] += v;
    sq[i % c] += v * v;
  }
  Normalization n;
  const double count = double(d.pixels.size()) / double(c);
  for (int64_t j = 0; j < c; ++j) {
    const double m = sum[j] / count;
    n.mean.push_back(float(m));
    n.stddev.push_back(float(std::sqrt(std::max(sq[j] / count - m * m, 1e-12))));
  }
  return n;
}

}  // namespace renorm
