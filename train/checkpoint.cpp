#include "train/checkpoint.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "runtime/checked.h"
#include "runtime/error.h"
#include "runtime/file_io.h"
#include "train/detail/json.h"

namespace renorm {

void save_safetensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata) {
  std::string header = "{\"__metadata__\":{";
  bool first = true;
  for (const auto& [k, v] : metadata) {  // appended piece by piece here and below: "text" + std::string&&
    if (!first) header += ',';            // trips GCC 12's bogus -Wrestrict (GCC PR 105651)
    header += json_quote(k);
    header += ':';
    header += json_quote(v);
    first = false;
  }
  header += "}";
  std::string data;
  for (const auto& [name, t] : tensors) {
    const Tensor host = t.to(Device::CPU);  // its own dtype's bytes, little-endian on every platform we build for
    std::string shape;
    for (int i = 0; i < t.rank(); ++i) {
      if (i) shape += ',';
      shape += std::to_string(t.dim(i));
    }
    const size_t begin = data.size();
    const bool bf16 = host.dtype() == DType::BF16;
    const char* bytes = bf16 ? reinterpret_cast<const char*>(host.data_bf16()) : reinterpret_cast<const char*>(host.data());
    data.append(bytes, size_t(host.numel()) * dtype_size(host.dtype()));
    header += ',';
    header += json_quote(name) + ":{\"dtype\":\"" + safetensors_dtype(host.dtype()) + "\",\"shape\":[" + shape + "],\"data_offsets\":[" +
              std::to_string(begin) + "," + std::to_string(data.size()) + "]}";
  }
  header += "}";
  while (header.size() % 8 != 0) header += ' ';
  std::string file(8, '\0');
  for (int i = 0; i < 8; ++i) file[i] = static_cast<char>((uint64_t(header.size()) >> (8 * i)) & 0xff);
  write_file_atomic(path, file + header + data);
}

const Tensor* SafeTensors::find(const std::string& name) const {
  for (const auto& [k, t] : tensors)
    if (k == name) return &t;
  return nullptr;
}

namespace {
struct Entry {
  std::string name;
  Shape shape;
  uint64_t begin, end;
  DType dtype;
};

// The dtypes a checkpoint may hold, by their safetensors names.
bool dtype_named(const Json& name, DType& out) {
  for (DType d : {DType::F32, DType::BF16})
    if (name.is_string() && name.get<std::string>() == safetensors_dtype(d)) {
      out = d;
      return true;
    }
  return false;
}

// One tensor's header entry, every size and offset checked against `data_bytes` (the bytes after the header).
Entry parse_entry(const std::string& name, const Json& entry, uint64_t data_bytes, const std::string& source) {
  const std::string where = source + ": tensor '" + name + "'";
  const auto is_count = [](const Json& j) { return j.is_number_unsigned(); };
  DType dtype = DType::F32;
  const bool ok = entry.is_object() && entry.contains("dtype") && dtype_named(entry["dtype"], dtype) && entry.contains("shape") &&
                  entry["shape"].is_array() && entry.contains("data_offsets") && entry["data_offsets"].is_array() &&
                  entry["data_offsets"].size() == 2 && is_count(entry["data_offsets"][0]) &&
                  is_count(entry["data_offsets"][1]);
  if (!ok) throw IoError(where + " is not an F32 or BF16 entry with shape and data_offsets");
  const Json& shape = entry["shape"];
  if (shape.size() > size_t(Shape::kMaxRank))
    throw IoError(where + " has rank " + std::to_string(shape.size()) + " (at most " + std::to_string(Shape::kMaxRank) + ")");
  Entry e{name, {}, entry["data_offsets"][0].get<uint64_t>(), entry["data_offsets"][1].get<uint64_t>(), dtype};
  uint64_t count = 1;
  for (const Json& d : shape) {
    if (!is_count(d) || d.get<uint64_t>() > uint64_t(INT64_MAX))
      throw IoError(where + " has a dimension that is not a count: " + d.dump());
    const auto next = checked_mul(count, d.get<uint64_t>());
    if (!next || *next > data_bytes) throw IoError(where + " has more elements than the file holds");
    count = *next;
    e.shape.push_back(d.get<int64_t>());
  }
  if (!range_within(e.begin, e.end, data_bytes) || e.end - e.begin != count * dtype_size(dtype))
    throw IoError(where + " has data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                  "] that do not match its shape " + e.shape.str() + " or the file's " + std::to_string(data_bytes) +
                  " data bytes");
  return e;
}

// The data ranges must tile the data section: sorted, no overlap, no gap, nothing after the last.
void check_tiling(std::vector<Entry>& entries, uint64_t data_bytes, const std::string& source) {
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t at = 0;
  for (const Entry& e : entries) {
    if (e.begin != at)
      throw IoError(source + ": tensor '" + e.name + "' data at byte " + std::to_string(e.begin) +
                    (e.begin < at ? " overlaps the tensor before it" : " leaves a gap after the tensor before it"));
    at = e.end;
  }
  if (at != data_bytes)
    throw IoError(source + ": " + std::to_string(data_bytes - at) + " data bytes after the last tensor belong to none");
}
}  // namespace

SafeTensors parse_safetensors(const std::string& bytes, const std::string& source) {
  if (bytes.size() < 8) throw IoError(source + ": too short for a safetensors file");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(static_cast<unsigned char>(bytes[i])) << (8 * i);
  if (n > bytes.size() - 8) throw IoError(source + ": header length " + std::to_string(n) + " exceeds the file");
  const Json header = parse_json(bytes.substr(8, n), source);
  if (!header.is_object()) throw IoError(source + ": header is not a JSON object");
  const uint64_t base = 8 + n, data_bytes = bytes.size() - base;
  SafeTensors out;
  std::vector<Entry> entries;
  for (const auto& [name, entry] : header.items()) {
    if (name != "__metadata__") {
      entries.push_back(parse_entry(name, entry, data_bytes, source));
      continue;
    }
    if (!entry.is_object()) throw IoError(source + ": __metadata__ is not a JSON object");
    for (const auto& [k, v] : entry.items()) {
      if (!v.is_string()) throw IoError(source + ": __metadata__ value '" + k + "' is not a string");
      out.metadata[k] = v.get<std::string>();
    }
  }
  std::vector<Entry> tiles = entries;
  check_tiling(tiles, data_bytes, source);
  for (const Entry& e : entries) {
    const Tensor t = Tensor::empty(e.shape, Device::CPU, e.dtype);
    void* to = e.dtype == DType::BF16 ? static_cast<void*>(t.data_bf16()) : static_cast<void*>(t.data());
    if (e.end > e.begin) std::memcpy(to, bytes.data() + base + e.begin, e.end - e.begin);
    out.tensors.emplace_back(e.name, t);
  }
  return out;
}

SafeTensors load_safetensors(const std::string& path) { return parse_safetensors(read_file(path, "checkpoint"), path); }

namespace {
// The metadata value `key`, parsed whole as a T inside [0, limit]; IoError naming `what` it should be.
template <class T>
T metadata_number(const SafeTensors& st, const std::string& key, const std::string& source, T limit, const char* what) {
  const auto it = st.metadata.find(key);
  if (it == st.metadata.end()) throw IoError(source + ": __metadata__ has no '" + key + "'");
  T v{};
  const char *first = it->second.data(), *last = first + it->second.size();
  const auto [end, ec] = std::from_chars(first, last, v);
  if (ec != std::errc() || end != last || !(v >= T(0) && v <= limit))
    throw IoError(source + ": __metadata__ '" + key + "' is not " + what + ": '" + it->second + "'");
  return v;
}
}  // namespace

int64_t metadata_int(const SafeTensors& st, const std::string& key, const std::string& source) {
  return metadata_number<int64_t>(st, key, source, std::numeric_limits<int64_t>::max(), "a count");
}

double metadata_seconds(const SafeTensors& st, const std::string& key, const std::string& source) {
  return metadata_number<double>(st, key, source, 1e12, "a number of seconds");
}

std::string first_nonfinite(const NamedTensors& tensors) {
  for (const auto& [name, t] : tensors)
    for (float v : t.to_vector())
      if (!std::isfinite(v)) return name + " holds " + (std::isnan(v) ? "NaN" : "Inf");
  return "";
}

void restore_tensors(const NamedTensors& into, const SafeTensors& from, const std::string& prefix, const std::string& file) {
  for (const auto& [name, t] : into) {
    const Tensor* src = from.find(prefix + name);
    if (!src) throw IoError(file + ": tensor '" + prefix + name + "' is missing");
    if (src->shape() != t.shape())
      throw IoError(file + ": tensor '" + prefix + name + "' has shape " + src->shape().str() + ", expected " + t.shape().str());
    if (src->dtype() != t.dtype())  // a checkpoint keeps float32 master weights; a bf16 copy is no substitute
      throw IoError(file + ": tensor '" + prefix + name + "' is " + safetensors_dtype(src->dtype()) + ", expected " +
                    safetensors_dtype(t.dtype()));
    Tensor dst = t;
    dst.copy_(*src);
  }
}

}  // namespace renorm
