// Dataset readers on generated files and on the real CIFAR-10 subset (skipped when absent); the loader.
#include <catch2/catch.hpp>

#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <set>

#include "runtime/error.h"
#include "data/loader.h"
#include "support/synthetic_data.h"

using namespace renorm;
using namespace renorm::test;

namespace {
std::string tmp(const std::string& name) { return (std::filesystem::temp_directory_path() / name).string(); }

void write_gz(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), unsigned(bytes.size()));
  gzclose(f);
}

std::vector<uint8_t> be32(uint32_t v) { return {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)}; }
}  // namespace

TEST_CASE("cifar10 reader: good file, planes to NHWC, labels", "[data]") {
  const std::string path = tmp("renorm-good.bin");
  std::vector<uint8_t> rec = synthetic_records(3, 1);
  rec[1 + 1024 + 5] = 77;  // record 0, green plane, pixel 5
  write_bytes(path, rec);
  const Dataset d = load_cifar10_file(path);
  CHECK(d.size() == 3);
  CHECK(d.labels == std::vector<uint8_t>{0, 1, 2});
  CHECK(d.pixels[5 * 3 + 1] == 77);
  CHECK(d.pixels.size() == 3 * 3072);
}

TEST_CASE("cifar10 reader: truncated, wrong size, bad label, missing file are named errors", "[data]") {
  const std::string path = tmp("renorm-bad.bin");
  std::vector<uint8_t> rec = synthetic_records(4, 2);
  write_bytes(path, std::vector<uint8_t>(rec.begin(), rec.end() - 100));
  CHECK_THROWS_WITH(load_cifar10_file(path), Catch::Contains(path) && Catch::Contains("not a whole number of 3073-byte"));
  write_bytes(path, {});
  CHECK_THROWS_AS(load_cifar10_file(path), IoError);
  rec[2 * 3073] = 10;  // record 2
  write_bytes(path, rec);
  CHECK_THROWS_WITH(load_cifar10_file(path), Catch::Contains(path) && Catch::Contains("record 2 has label 10"));
  CHECK_THROWS_WITH(load_cifar10_file(tmp("renorm-none.bin")), Catch::Contains("renorm-none.bin: no such file"));
  CHECK_THROWS_WITH(load_cifar10(tmp("renorm-no-dir"), true), Catch::Contains("does not exist"));
  const std::string dir = make_synthetic_cifar("partial", 10, 5);
  std::filesystem::remove(dir + "/data_batch_3.bin");
  CHECK_THROWS_WITH(load_cifar10(dir, true), Catch::Contains("data_batch_3.bin: no such file"));
}

TEST_CASE("fashion-mnist reader: IDX through zlib, bad magic and truncation", "[data]") {
  const std::string dir = tmp("renorm-fmnist");
  std::filesystem::create_directories(dir);
  std::vector<uint8_t> img = be32(2051), lab = be32(2049);
  for (auto v : {be32(3), be32(28), be32(28)}) img.insert(img.end(), v.begin(), v.end());
  for (int i = 0; i < 3 * 784; ++i) img.push_back(uint8_t(i));
  auto n = be32(3);
  lab.insert(lab.end(), n.begin(), n.end());
  lab.insert(lab.end(), {7, 2, 9});
  write_gz(dir + "/train-images-idx3-ubyte.gz", img);
  write_gz(dir + "/train-labels-idx1-ubyte.gz", lab);
  const Dataset d = load_fashion_mnist(dir, true);
  CHECK(d.size() == 3);
  CHECK(d.channels == 1);
  CHECK(d.labels == std::vector<uint8_t>{7, 2, 9});
  CHECK(d.pixels[784] == uint8_t(784));
  img.resize(img.size() - 10);
  write_gz(dir + "/train-images-idx3-ubyte.gz", img);
  CHECK_THROWS_WITH(load_fashion_mnist(dir, true), Catch::Contains("train-images-idx3-ubyte.gz: 2342 pixel bytes, but the header says 3 images of 28x28"));
  img[3] = 0;
  write_gz(dir + "/train-images-idx3-ubyte.gz", img);
  CHECK_THROWS_WITH(load_fashion_mnist(dir, true), Catch::Contains("magic 2051"));
}

TEST_CASE("real CIFAR-10 subset: counts and first labels", "[data][real]") {
  const char* env = std::getenv("RENORM_DATA_DIR");
  const std::string dir = std::string(env ? env : "../shared/data") + "/cifar-10-batches-bin";
  if (!std::filesystem::exists(dir + "/data_batch_1.bin")) {
    std::cout << "SKIPPED: real CIFAR-10 subset absent at " << dir << std::endl;
    return;
  }
  const Dataset train = load_cifar10(dir, true), test = load_cifar10(dir, false);
  CHECK(train.size() % 1017 == 0);
  CHECK(test.size() >= 1017);
  const Dataset b1 = load_cifar10_file(dir + "/data_batch_1.bin");
  CHECK(std::vector<uint8_t>(b1.labels.begin(), b1.labels.begin() + 5) == std::vector<uint8_t>{6, 9, 9, 4, 1});
  CHECK(std::vector<uint8_t>(test.labels.begin(), test.labels.begin() + 5) == std::vector<uint8_t>{3, 8, 8, 0, 6});
  std::vector<int> counts(10, 0);
  for (uint8_t l : train.labels) ++counts[l];
  for (int c : counts) CHECK(c > train.size() / 20);  // every class present, none rare
  CHECK(train.class_names[0] == "airplane");
  CHECK(train.class_names[9] == "truck");
}

TEST_CASE("loader: batches are a pure function of (seed, index) - an epoch covers every example once", "[data]") {
  const std::string dir = make_synthetic_cifar("loader", 20, 10);
  const Dataset d = load_cifar10(dir, true);  // 100 examples
  const Normalization norm = Normalization::of(d);
  LoaderConfig cfg{10, true, true, true, Sampler::Iid, 5};
  DataLoader a(d, norm, cfg, Device::CPU), b(d, norm, cfg, Device::CPU);
  std::vector<std::vector<float>> first;
  std::multiset<int> seen;
  for (int k = 0; k < 10; ++k) first.push_back(a.next().images.to_vector());
  b.seek(7);
  CHECK(b.next().images.to_vector() == first[7]);
  CHECK(b.next().index == 8);
  LoaderConfig plain = cfg;
  plain.augment = false;
  DataLoader c(d, norm, plain, Device::CPU);
  std::vector<float> all_labels;
  for (int k = 0; k < 10; ++k) {
    const Batch batch = c.next();
    CHECK(batch.images.shape() == Shape{10, 32, 32, 3});
    for (float l : batch.labels.to_vector()) all_labels.push_back(l);
  }
  std::vector<int> per_class(10, 0);
  for (float l : all_labels) ++per_class[int(l)];
  CHECK(per_class == std::vector<int>(10, 10));
  CHECK(c.next().images.to_vector() != DataLoader(d, norm, plain, Device::CPU).next().images.to_vector());  // epoch 2 reshuffles
}

TEST_CASE("loader: the non-i.i.d. sampler makes pairs of one class, distinct classes per batch", "[data]") {
  const std::string dir = make_synthetic_cifar("noniid", 20, 10);
  const Dataset d = load_cifar10(dir, true);
  DataLoader l(d, Normalization::of(d), LoaderConfig{8, true, false, true, Sampler::NonIid, 3}, Device::CPU);
  for (int k = 0; k < 5; ++k) {
    const std::vector<float> lab = l.next().labels.to_vector();
    std::set<float> classes;
    for (size_t i = 0; i < lab.size(); i += 2) {
      CHECK(lab[i] == lab[i + 1]);
      classes.insert(lab[i]);
    }
    CHECK(classes.size() == 4);  // B/2 pairs, each its own class
  }
  CHECK_THROWS_AS(DataLoader(d, Normalization::of(d), LoaderConfig{7, true, false, true, Sampler::NonIid, 3}, Device::CPU),
                  ConfigError);
}

TEST_CASE("loader: non-i.i.d. runs of k same-class examples: a microbatch of M holds M/k classes", "[data]") {
  const std::string dir = make_synthetic_cifar("noniid-runs", 20, 10);
  const Dataset d = load_cifar10(dir, true);
  for (int64_t run : {1, 4}) {
    LoaderConfig cfg{8, true, false, true, Sampler::NonIid, 3};
    cfg.class_run = run;
    DataLoader l(d, Normalization::of(d), cfg, Device::CPU);
    for (int k = 0; k < 4; ++k) {
      const std::vector<float> lab = l.next().labels.to_vector();
      std::set<float> classes(lab.begin(), lab.end());
      CHECK(int64_t(classes.size()) == 8 / run);  // distinct classes, one per run
      for (size_t i = 0; i < lab.size(); ++i) CHECK(lab[i] == lab[i - i % size_t(run)]);
    }
  }
  LoaderConfig pairs{8, true, false, true, Sampler::NonIid, 3}, sharded = pairs;
  sharded.class_run = 4;
  sharded.shards = 4;  // shards of 2: a run of 4 would straddle them
  CHECK_THROWS_WITH(DataLoader(d, Normalization::of(d), sharded, Device::CPU), Catch::Contains("runs of 4"));
  // The default, run 2, is the paper's pairs (and the earlier sampler's draws).
  CHECK(pairs.class_run == 2);
}

TEST_CASE("normalization: per-channel statistics of the training set", "[data]") {
  Dataset d;
  d.height = d.width = 1;
  d.channels = 2;
  d.pixels = {0, 255, 255, 255};
  d.labels = {0, 1};
  const Normalization n = Normalization::of(d);
  CHECK(n.mean[0] == Approx(0.5f));
  CHECK(n.stddev[0] == Approx(0.5f));
  CHECK(n.mean[1] == Approx(1.f));
}

TEST_CASE("loader: K shards of a batch, concatenated, are the batch one loader yields (augmentation, samplers)", "[data]") {
  const std::string dir = make_synthetic_cifar("shards", 20, 10);
  const Dataset d = load_cifar10(dir, true);  // 100 examples
  const Normalization norm = Normalization::of(d);
  for (const Sampler sampler : {Sampler::Iid, Sampler::NonIid}) {
    const LoaderConfig whole{12, true, true, true, sampler, 5};
    DataLoader one(d, norm, whole, Device::CPU);
    one.seek(9);  // into the second epoch
    const Batch expect = one.next();
    for (int64_t k : {2, 3}) {
      std::vector<float> images, labels;
      for (int64_t r = 0; r < k; ++r) {
        LoaderConfig part = whole;
        part.shard = r;
        part.shards = k;
        DataLoader shard(d, norm, part, Device::CPU);
        shard.seek(9);
        const Batch b = shard.next();
        CHECK(b.images.shape() == Shape{12 / k, 32, 32, 3});
        for (float v : b.images.to_vector()) images.push_back(v);
        for (float v : b.labels.to_vector()) labels.push_back(v);
      }
      INFO("sampler " << enum_name(sampler) << ", " << k << " shards");
      CHECK(images == expect.images.to_vector());
      CHECK(labels == expect.labels.to_vector());
    }
  }
  LoaderConfig bad{12, true, false, true, Sampler::Iid, 5};
  bad.shards = 5;
  CHECK_THROWS_WITH(DataLoader(d, norm, bad, Device::CPU), Catch::Contains("shards must divide the batch 12"));
}
