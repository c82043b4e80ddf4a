#include "data/loader.h"

#include <algorithm>

#include "runtime/allocator.h"
#include "runtime/error.h"
#include "runtime/philox.h"

namespace renorm {

namespace {
constexpr uint32_t kShuffleStream = 11, kAugmentStream = 12;

// Fisher-Yates with Philox draws keyed by (seed, epoch, stream).
void shuffle(std::vector<int64_t>& v, uint64_t seed, int64_t epoch, uint32_t stream) {
  const uint64_t key = seed * 0x9E3779B97F4A7C15ull + uint64_t(epoch);
  for (int64_t i = int64_t(v.size()) - 1; i > 0; --i) {
    const int64_t j = std::min<int64_t>(i, int64_t(philox_uniform(key, uint64_t(i), stream) * float(i + 1)));
    std::swap(v[i], v[j]);
  }
}
}  // namespace

const EnumNames<Sampler>& enum_names(Sampler) {
  static const EnumNames<Sampler> names = {{"iid", Sampler::Iid}, {"noniid", Sampler::NonIid}};
  return names;
}

DataLoader::DataLoader(const Dataset& data, Normalization norm, LoaderConfig cfg, Device device)
    : data_(data), norm_(std::move(norm)), cfg_(cfg), device_(device) {
  if (cfg.batch <= 0) throw ConfigError("loader: batch must be > 0, got " + std::to_string(cfg.batch));
  if (cfg.shards < 1 || cfg.shard < 0 || cfg.shard >= cfg.shards || cfg.batch % cfg.shards != 0 || (cfg.shards > 1 && !cfg.drop_last))
    throw ConfigError("loader: shard " + std::to_string(cfg.shard) + " of " + std::to_string(cfg.shards) +
                      ": the shards must divide the batch " + std::to_string(cfg.batch) + " (and whole batches only)");
  if (cfg.sampler == Sampler::NonIid && (cfg.class_run < 1 || (cfg.batch / cfg.shards) % cfg.class_run != 0))
    throw ConfigError("loader: the non-i.i.d. sampler's runs of " + std::to_string(cfg.class_run) +
                      " same-class examples must divide the batch, got " + std::to_string(cfg.batch) +
                      (cfg.shards > 1 ? " in " + std::to_string(cfg.shards) + " shards" : std::string()));
  if (batches_per_epoch() == 0)
    throw ConfigError("loader: the dataset has " + std::to_string(data.size()) + " examples, fewer than one batch of " +
                      std::to_string(cfg.batch));
  const size_t floats = size_t(cfg.batch) * (data.image_bytes() + 1);
  for (Slot& s : slots_) s.host = static_cast<float*>(pinned_allocate(floats * sizeof(float)));
}

DataLoader::~DataLoader() {
  halt();
  for (Slot& s : slots_) pinned_release(s.host);
}

int64_t DataLoader::batches_per_epoch() const {
  return cfg_.drop_last ? data_.size() / cfg_.batch : (data_.size() + cfg_.batch - 1) / cfg_.batch;
}

int64_t DataLoader::batch_size(int64_t k) const {
  const int64_t j = k % batches_per_epoch();
  return std::min(cfg_.batch, data_.size() - j * cfg_.batch) / cfg_.shards;
}

std::vector<int64_t> DataLoader::indices(int64_t k) const {
  std::vector<int64_t> all = batch_indices(k);
  const int64_t s = batch_size(k);
  return {all.begin() + cfg_.shard * s, all.begin() + (cfg_.shard + 1) * s};
}

std::vector<int64_t> DataLoader::batch_indices(int64_t k) const {
  const int64_t per_epoch = batches_per_epoch(), epoch = k / per_epoch, j = k % per_epoch,
                b = std::min(cfg_.batch, data_.size() - j * cfg_.batch);
  std::lock_guard<std::mutex> lock(perm_mutex_);
  if (perm_epoch_ != epoch) {
    if (cfg_.sampler == Sampler::Iid) {
      perm_.resize(data_.size());
      for (int64_t i = 0; i < data_.size(); ++i) perm_[i] = i;
      if (cfg_.shuffle) shuffle(perm_, cfg_.seed, epoch, kShuffleStream);
    } else {
      by_class_.assign(data_.num_classes(), {});
      for (int64_t i = 0; i < data_.size(); ++i) by_class_[data_.labels[i]].push_back(i);
      perm_.clear();
      for (int c = 0; c < data_.num_classes(); ++c) {
        if (by_class_[c].empty()) continue;
        shuffle(by_class_[c], cfg_.seed, epoch, kShuffleStream + 1 + c);
        perm_.push_back(c);
      }
      shuffle(perm_, cfg_.seed, epoch, kShuffleStream);
    }
    perm_epoch_ = epoch;
  }
  std::vector<int64_t> out;
  if (cfg_.sampler == Sampler::Iid) return {perm_.begin() + j * cfg_.batch, perm_.begin() + j * cfg_.batch + b};
  const int64_t run = cfg_.class_run, runs = b / run, classes = int64_t(perm_.size());
  for (int64_t p = 0; p < runs; ++p) {
    const int64_t g = j * runs + p, round = g / classes;
    const std::vector<int64_t>& list = by_class_[perm_[g % classes]];
    for (int64_t t = 0; t < run; ++t) out.push_back(list[size_t(run * round + t) % list.size()]);
  }
  return out;
}

void DataLoader::fill(int64_t k, float* images, float* labels) const {
  const std::vector<int64_t> idx = indices(k);
  const int64_t h = data_.height, w = data_.width, c = data_.channels;
  for (size_t slot = 0; slot < idx.size(); ++slot) {
    const uint8_t* src = data_.pixels.data() + idx[slot] * h * w * c;
    float* dst = images + slot * h * w * c;
    labels[slot] = float(data_.labels[idx[slot]]);
    int64_t dy = 0, dx = 0;
    bool flip = false;
    if (cfg_.augment) {
      const uint64_t key = cfg_.seed ^ 0xA5A5A5A5ull,  // keyed by the slot in the whole batch
          ctr = uint64_t(k) * uint64_t(cfg_.batch) + uint64_t(cfg_.shard * batch_size(k)) + slot;
      const Philox4 r = philox4x32_10(uint32_t(ctr), uint32_t(ctr >> 32), kAugmentStream, 0, key);
      dy = int64_t(r.v[0] % 9) - 4;
      dx = int64_t(r.v[1] % 9) - 4;
      flip = r.v[2] & 1;
    }
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        const int64_t sy = y + dy, sx = (flip ? w - 1 - x : x) + dx;
        const bool inside = sy >= 0 && sy < h && sx >= 0 && sx < w;
        for (int64_t ch = 0; ch < c; ++ch)
          dst[(y * w + x) * c + ch] =
              inside ? (src[(sy * w + sx) * c + ch] / 255.f - norm_.mean[ch]) / norm_.stddev[ch] : 0.f;
      }
  }
}

void DataLoader::work(int64_t from) {
  for (int64_t k = from;; ++k) {
    Slot& s = slots_[k % 2];
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [&] { return stop_ || s.index == -1; });
      if (stop_) return;
    }
    upload_wait(s.upload);  // the last upload from this slot has left the host buffer
    s.upload = 0;
    fill(k, s.host, s.host + batch_size(k) * data_.image_bytes());  // labels right after the images
    std::lock_guard<std::mutex> lock(mutex_);
    s.index = k;
    s.ready = true;
    cv_.notify_all();
  }
}

void DataLoader::start(int64_t from) {
  stop_ = false;
  worker_ = std::thread([this, from] { work(from); });
}

void DataLoader::halt() {
  if (worker_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }
  for (Slot& s : slots_) {
    upload_wait(s.upload);
    s = Slot{s.host};
  }
}

void DataLoader::seek(int64_t batch) {
  if (batch < 0) throw ConfigError("loader: cannot seek to batch " + std::to_string(batch));
  halt();
  position_ = batch;
}

Batch DataLoader::next() {
  Batch out;
  next_into(out);
  return out;
}

void DataLoader::next_into(Batch& out) {
  if (!worker_.joinable()) start(position_);
  Slot& s = slots_[position_ % 2];
  {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return s.ready && s.index == position_; });
  }
  const int64_t b = batch_size(position_), img = b * data_.image_bytes();
  // One device block, one asynchronous copy: images then labels, as two views of it.
  if (!out.storage.defined() || out.storage.numel() != img + b || out.storage.device() != device_)
    out.storage = Tensor::empty(Shape{img + b}, device_);
  const Tensor& block = out.storage;
  s.upload = upload_async(block.data(), device_, s.host, size_t(img + b) * sizeof(float));
  out.images = block.detach();
  out.images.impl()->shape = Shape{b, data_.height, data_.width, data_.channels};
  out.labels = block.detach();
  out.labels.impl()->offset = img;
  out.labels.impl()->shape = Shape{b};
  out.index = position_;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    s.ready = false;
    s.index = -1;
  }
  cv_.notify_all();
  ++position_;
}

}  // namespace renorm
