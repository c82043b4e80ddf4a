#include "data/dataset.h"

#include <zlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "runtime/error.h"

namespace renorm {

namespace {
constexpr int64_t kCifarRecord = 3073;

std::vector<uint8_t> read_file(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) throw IoError(path + ": no such file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot open for reading");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return bytes;
}

std::vector<uint8_t> read_gzip(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) throw IoError(path + ": no such file");
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw IoError(path + ": cannot open for reading");
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + n);
  int err = 0;
  const std::string msg = n < 0 ? gzerror(f, &err) : "";
  gzclose(f);
  if (n < 0) throw IoError(path + ": gzip error: " + msg);
  return out;
}

uint32_t be32(const std::vector<uint8_t>& b, size_t at) {
  return (uint32_t(b[at]) << 24) | (uint32_t(b[at + 1]) << 16) | (uint32_t(b[at + 2]) << 8) | b[at + 3];
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

Dataset load_cifar10_file(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file(path);
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
    const uint8_t* rec = bytes.data() + i * kCifarRecord;
    if (rec[0] >= 10)
      throw IoError(path + ": record " + std::to_string(i) + " has label " + std::to_string(rec[0]) + " (must be 0-9)");
    d.labels[i] = rec[0];
    uint8_t* img = d.pixels.data() + i * 3072;
    for (int p = 0; p < 1024; ++p)  // planes R, G, B -> interleaved HWC
      for (int c = 0; c < 3; ++c) img[p * 3 + c] = rec[1 + c * 1024 + p];
  }
  return d;
}

Dataset load_cifar10(const std::string& dir, bool train) {
  if (!std::filesystem::is_directory(dir)) throw IoError(dir + ": CIFAR-10 data folder does not exist");
  Dataset d;
  if (train)
    for (int i = 1; i <= 5; ++i) append(d, load_cifar10_file(dir + "/data_batch_" + std::to_string(i) + ".bin"));
  else
    append(d, load_cifar10_file(dir + "/test_batch.bin"));
  d.class_names = kCifarNames;
  std::ifstream meta(dir + "/batches.meta.txt");
  std::vector<std::string> names;
  for (std::string line; std::getline(meta, line);)
    if (!line.empty()) names.push_back(line);
  if (names.size() == 10) d.class_names = names;
  return d;
}

Dataset load_fashion_mnist(const std::string& dir, bool train) {
  if (!std::filesystem::is_directory(dir)) throw IoError(dir + ": Fashion-MNIST data folder does not exist");
  const std::string prefix = dir + (train ? "/train" : "/t10k");
  const std::string ipath = prefix + "-images-idx3-ubyte.gz", lpath = prefix + "-labels-idx1-ubyte.gz";
  const std::vector<uint8_t> img = read_gzip(ipath), lab = read_gzip(lpath);
  if (img.size() < 16 || be32(img, 0) != 2051) throw IoError(ipath + ": not an IDX image file (magic 2051)");
  if (lab.size() < 8 || be32(lab, 0) != 2049) throw IoError(lpath + ": not an IDX label file (magic 2049)");
  const uint32_t n = be32(img, 4), rows = be32(img, 8), cols = be32(img, 12);
  if (img.size() != 16 + size_t(n) * rows * cols) throw IoError(ipath + ": truncated (header says " + std::to_string(n) + " images)");
  if (be32(lab, 4) != n || lab.size() != 8 + size_t(n))
    throw IoError(lpath + ": label count does not match the " + std::to_string(n) + " images of " + ipath);
  Dataset d;
  d.height = rows;
  d.width = cols;
  d.channels = 1;
  d.class_names = kFashionNames;
  d.pixels.assign(img.begin() + 16, img.end());
  d.labels.assign(lab.begin() + 8, lab.end());
  for (uint32_t i = 0; i < n; ++i)
    if (d.labels[i] >= 10) throw IoError(lpath + ": record " + std::to_string(i) + " has label " + std::to_string(d.labels[i]));
  return d;
}

const EnumNames<DatasetKind>& enum_names(DatasetKind) {
  static const EnumNames<DatasetKind> names = {{"cifar10", DatasetKind::Cifar10}, {"fashion-mnist", DatasetKind::FashionMnist}};
  return names;
}

Dataset load_dataset(DatasetKind kind, const std::string& dir, bool train) {
  return kind == DatasetKind::Cifar10 ? load_cifar10(dir, train) : load_fashion_mnist(dir, train);
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
