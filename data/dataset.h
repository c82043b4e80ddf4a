// Image classification datasets in memory, NHWC uint8, and their readers. Errors name the file (and the
// record, for a bad label).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/named_enum.h"

namespace renorm {

struct Dataset {
  int64_t height = 0, width = 0, channels = 0;
  std::vector<uint8_t> pixels;  // [N,H,W,C]
  std::vector<uint8_t> labels;  // [N]
  std::vector<std::string> class_names;
  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  int64_t image_bytes() const { return height * width * channels; }
  int num_classes() const { return static_cast<int>(class_names.size()); }
};

// The largest dataset file (or inflated gzip stream) a reader accepts: 4 GiB (all of CIFAR-10 is 180 MB).
constexpr uint64_t kMaxDatasetBytes = uint64_t(1) << 32;

// One CIFAR-10 binary file: any whole number (>= 1) of 3073-byte records (label, 1024 R, 1024 G, 1024 B).
Dataset load_cifar10_file(const std::string& path);
// The same from the file's bytes; `path` names them in errors (the in-memory entry point the fuzzer drives).
Dataset parse_cifar10(const std::string& bytes, const std::string& path);
// data_batch_1..5.bin (train) or test_batch.bin, and batches.meta.txt when present, from dir.
Dataset load_cifar10(const std::string& dir, bool train);
// Fashion-MNIST IDX files (gzip): {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz in dir.
Dataset load_fashion_mnist(const std::string& dir, bool train);
// An IDX image file (magic 2051, n·rows·cols bytes) and its label file (magic 2049, n labels 0-9), inflated;
// the paths name them in errors. Every count is checked against the bytes really there.
Dataset parse_idx(const std::string& images, const std::string& labels, const std::string& ipath, const std::string& lpath);
// "cifar10" or "fashion-mnist".
enum class DatasetKind { Cifar10, FashionMnist };
const EnumNames<DatasetKind>& enum_names(DatasetKind);  // "cifar10", "fashion-mnist"
Dataset load_dataset(DatasetKind kind, const std::string& dir, bool train);
// The files load_dataset reads from its folder (the one list: the readers use it too).
std::vector<std::string> dataset_files(DatasetKind kind, bool train);
// What identifies a dataset folder's contents, cheaply: for every file of both splits its name, size
// and a 64-bit FNV-1a hash of its first 64 KiB ("data_batch_1.bin:30730000:9c1e...; ..."). config.json
// keeps it, so that --resume can tell moved data (same fingerprint) from other data. IoError naming a
// missing or unreadable file.
std::string dataset_fingerprint(DatasetKind kind, const std::string& dir);

// Per-channel mean and standard deviation of the pixels scaled to [0,1] (from the training set).
struct Normalization {
  std::vector<float> mean, stddev;
  static Normalization of(const Dataset& d);
};

}  // namespace renorm
