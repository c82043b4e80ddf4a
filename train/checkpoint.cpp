#include "train/checkpoint.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "runtime/error.h"
#include "train/json.h"

namespace renorm {

void write_file_atomic(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw IoError(path + ": cannot write (" + tmp + " could not be created)");
    out.write(bytes.data(), std::streamsize(bytes.size()));
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      throw IoError(path + ": write failed (disk full?)");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw IoError(path + ": cannot rename " + tmp + " into place: " + ec.message());
  }
}

void save_safetensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata) {
  std::string header = "{\"__metadata__\":{";
  bool first = true;
  for (const auto& [k, v] : metadata) {
    header += (first ? "" : ",") + json_quote(k) + ":" + json_quote(v);
    first = false;
  }
  header += "}";
  std::string data;
  for (const auto& [name, t] : tensors) {
    const std::vector<float> v = t.to_vector();  // float32, little-endian on every platform we build for
    std::string shape;
    for (int i = 0; i < t.rank(); ++i) shape += (i ? "," : "") + std::to_string(t.dim(i));
    const size_t begin = data.size();
    data.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
    header += "," + json_quote(name) + ":{\"dtype\":\"F32\",\"shape\":[" + shape + "],\"data_offsets\":[" +
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

SafeTensors load_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot open checkpoint");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 8) throw IoError(path + ": too short for a safetensors file");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(static_cast<unsigned char>(bytes[i])) << (8 * i);
  if (n > bytes.size() - 8) throw IoError(path + ": header length " + std::to_string(n) + " exceeds the file");
  const Json header = parse_json(bytes.substr(8, n), path);
  if (!header.is_object()) throw IoError(path + ": header is not a JSON object");
  const size_t base = 8 + n;
  SafeTensors out;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) throw IoError(path + ": __metadata__ is not a JSON object");
      for (const auto& [k, v] : entry.items())
        if (v.is_string()) out.metadata[k] = v.get<std::string>();
      continue;
    }
    const auto dtype = entry.find("dtype"), shape = entry.find("shape"), offs = entry.find("data_offsets");
    const bool ok = entry.is_object() && dtype != entry.end() && *dtype == "F32" && shape != entry.end() &&
                    shape->is_array() && offs != entry.end() && offs->is_array() && offs->size() == 2 &&
                    (*offs)[0].is_number_unsigned() && (*offs)[1].is_number_unsigned();
    if (!ok) throw IoError(path + ": tensor '" + name + "' is not a float32 entry with shape and data_offsets");
    Shape s;
    for (const Json& d : *shape) {
      if (!d.is_number_unsigned()) throw IoError(path + ": tensor '" + name + "' has a dimension that is not a count");
      s.push_back(d.get<int64_t>());
    }
    const size_t a = (*offs)[0].get<size_t>(), b = (*offs)[1].get<size_t>();
    if (b < a || base + b > bytes.size() || (b - a) != size_t(s.numel()) * sizeof(float))
      throw IoError(path + ": tensor '" + name + "' has data offsets that do not match its shape or the file");
    std::vector<float> v(s.numel());
    std::memcpy(v.data(), bytes.data() + base + a, b - a);
    out.tensors.emplace_back(name, Tensor::from_vector(v, s));
  }
  return out;
}

void restore_tensors(const NamedTensors& into, const SafeTensors& from, const std::string& prefix, const std::string& file) {
  for (const auto& [name, t] : into) {
    const Tensor* src = from.find(prefix + name);
    if (!src) throw IoError(file + ": tensor '" + prefix + name + "' is missing");
    if (src->shape() != t.shape())
      throw IoError(file + ": tensor '" + prefix + name + "' has shape " + src->shape().str() + ", expected " + t.shape().str());
    Tensor dst = t;
    dst.copy_(*src);
  }
}

}  // namespace renorm
