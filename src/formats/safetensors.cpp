#include "formats/safetensors.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"
#include "common/file_util.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace emu35 {

namespace {
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;  // same bound as the reference implementation

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
}  // namespace

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string TensorView::shape_str() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

SafeTensors SafeTensors::open(const fs::path& path_in) {
  SafeTensors st;
  fs::path path = path_in;
  if (fs::is_directory(path)) {
    if (fs::exists(path / "model.safetensors.index.json")) path /= "model.safetensors.index.json";
    else if (fs::exists(path / "model.safetensors")) path /= "model.safetensors";
    else throw Error(path.string() + ": no model.safetensors or model.safetensors.index.json in this folder");
  }
  st.source_ = path.string();
  const std::string name = path.filename().string();
  if (name.size() > 5 && name.ends_with(".json")) {
    json idx;
    try {
      idx = json::parse(read_whole_file(path));
    } catch (const json::exception& e) {
      throw Error(path.string() + ": not valid JSON: " + e.what());
    }
    if (!idx.is_object() || !idx.contains("weight_map") || !idx["weight_map"].is_object())
      throw Error(path.string() + ": shard index has no \"weight_map\" object");
    std::map<std::string, std::vector<std::string>> by_shard;
    for (auto& [tensor, shard] : idx["weight_map"].items()) {
      if (!shard.is_string()) throw Error(path.string() + ": weight_map entry for " + tensor + " is not a string");
      std::string s = shard.get<std::string>();
      fs::path sp(s);
      if (s.empty() || sp.is_absolute() || s.find("..") != std::string::npos || sp.has_parent_path())
        throw Error(path.string() + ": tensor " + tensor + " points to shard \"" + s +
                    "\" outside the checkpoint folder");
      by_shard[s].push_back(tensor);
    }
    if (by_shard.empty()) throw Error(path.string() + ": weight_map is empty");
    for (auto& [shard, tensors] : by_shard) {
      fs::path sp = path.parent_path() / shard;
      if (!fs::exists(sp))
        throw Error(path.string() + ": shard " + shard + " (holding " + tensors.front() + " and " +
                    std::to_string(tensors.size() - 1) + " more) does not exist");
      st.add_file(sp, &tensors);
    }
  } else {
    st.add_file(path, nullptr);
  }
  return st;
}

void SafeTensors::add_file(const fs::path& file, const std::vector<std::string>* expected) {
  auto mf = std::make_unique<MappedFile>(file.string());
  const std::string fname = file.string();
  const uint64_t fsize = mf->size();
  if (fsize < 8) throw Error(fname + ": too short to be a safetensors file (" + std::to_string(fsize) + " bytes)");
  const uint64_t hlen = read_u64_le(mf->data());
  if (hlen < 2 || hlen > kMaxHeaderBytes || hlen > fsize - 8)
    throw Error(fname + ": header length " + std::to_string(hlen) + " is invalid for a file of " +
                std::to_string(fsize) + " bytes (truncated or not safetensors)");
  json header;
  try {
    header = json::parse(mf->data() + 8, mf->data() + 8 + hlen);
  } catch (const json::exception& e) {
    throw Error(fname + ": header is not valid JSON: " + e.what());
  }
  if (!header.is_object()) throw Error(fname + ": header is not a JSON object");
  const uint8_t* base = mf->data() + 8 + hlen;
  const uint64_t data_len = fsize - 8 - hlen;

  file_names_.push_back(std::make_unique<std::string>(fname));
  const std::string* fname_ptr = file_names_.back().get();
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  std::vector<std::string> range_names;
  for (auto& [key, val] : header.items()) {
    if (key == "__metadata__") {
      if (!val.is_object()) throw Error(fname + ": __metadata__ is not an object");
      for (auto& [mk, mv] : val.items()) {
        if (!mv.is_string()) throw Error(fname + ": __metadata__[" + mk + "] is not a string");
        metadata_[mk] = mv.get<std::string>();
      }
      continue;
    }
    auto bad = [&](const std::string& why) { return Error(fname + ": tensor " + key + ": " + why); };
    if (!val.is_object()) throw bad("entry is not an object");
    if (!val.contains("dtype") || !val["dtype"].is_string()) throw bad("missing dtype");
    TensorView tv;
    tv.name = key;
    if (!parse_dtype(val["dtype"].get<std::string>(), &tv.dtype))
      throw bad("unsupported dtype " + val["dtype"].get<std::string>());
    if (!val.contains("shape") || !val["shape"].is_array()) throw bad("missing shape");
    uint64_t numel = 1;
    for (auto& d : val["shape"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0) throw bad("shape has a non-integer or negative dimension");
      uint64_t dim = d.get<uint64_t>();
      if (dim != 0 && numel > std::numeric_limits<uint64_t>::max() / 16 / dim) throw bad("shape too large");
      numel *= dim;
      tv.shape.push_back(static_cast<int64_t>(dim));
    }
    if (!val.contains("data_offsets") || !val["data_offsets"].is_array() || val["data_offsets"].size() != 2 ||
        !val["data_offsets"][0].is_number_unsigned() || !val["data_offsets"][1].is_number_unsigned())
      throw bad("data_offsets must be two non-negative integers");
    uint64_t b = val["data_offsets"][0].get<uint64_t>(), e = val["data_offsets"][1].get<uint64_t>();
    if (b > e) throw bad("data_offsets begin > end");
    if (e > data_len)
      throw bad("data ends at byte " + std::to_string(e) + " but the file holds only " + std::to_string(data_len) +
                " data bytes (truncated file?)");
    uint64_t want = numel * dtype_size(tv.dtype);
    if (e - b != want)
      throw bad("holds " + std::to_string(e - b) + " bytes but shape " + tv.shape_str() + " x " +
                std::string(dtype_name(tv.dtype)) + " needs " + std::to_string(want));
    tv.data = base + b;
    tv.nbytes = static_cast<size_t>(e - b);
    tv.file = fname_ptr;
    if (expected && std::find(expected->begin(), expected->end(), key) == expected->end())
      continue;  // present in the shard but not listed in the index: not ours
    if (tensors_.count(key)) throw bad("appears in more than one shard");
    ranges.emplace_back(b, e);
    range_names.push_back(key);
    tensors_.emplace(key, std::move(tv));
  }
  // No two tensors may share bytes.
  std::vector<size_t> order(ranges.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ranges[a] < ranges[b]; });
  for (size_t i = 1; i < order.size(); ++i) {
    auto& prev = ranges[order[i - 1]];
    auto& cur = ranges[order[i]];
    if (cur.first < prev.second && cur.second > cur.first)
      throw Error(fname + ": tensors " + range_names[order[i - 1]] + " and " + range_names[order[i]] +
                  " overlap in the data section");
  }
  if (expected)
    for (const auto& t : *expected)
      if (!tensors_.count(t))
        throw Error(fname + ": tensor " + t + " is listed in the shard index but missing from this shard");
  files_.push_back(std::move(mf));
}

const TensorView* SafeTensors::find(std::string_view name) const {
  auto it = tensors_.find(std::string(name));
  return it == tensors_.end() ? nullptr : &it->second;
}

const TensorView& SafeTensors::get(std::string_view name) const {
  const TensorView* t = find(name);
  if (!t) throw Error(source_ + ": missing tensor " + std::string(name));
  return *t;
}

const TensorView& SafeTensors::get(std::string_view name, const std::vector<int64_t>& shape) const {
  const TensorView& t = get(name);
  if (t.shape != shape) {
    TensorView want;
    want.shape = shape;
    throw Error(*t.file + ": tensor " + t.name + " has shape " + t.shape_str() + ", expected " + want.shape_str());
  }
  return t;
}

std::vector<std::string> SafeTensors::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (auto& [k, v] : tensors_) out.push_back(k);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<float> SafeTensors::to_f32(std::string_view name) const {
  const TensorView& t = get(name);
  if (t.dtype == DType::I64 || t.dtype == DType::I32 || t.dtype == DType::U8)
    throw Error(*t.file + ": tensor " + t.name + " is " + std::string(dtype_name(t.dtype)) + ", expected a float type");
  std::vector<float> out(static_cast<size_t>(t.numel()));
  convert_to_f32(t.dtype, t.data, out.data(), out.size());
  return out;
}

std::vector<int64_t> SafeTensors::to_i64(std::string_view name) const {
  const TensorView& t = get(name);
  std::vector<int64_t> out(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < out.size(); ++i) {
    switch (t.dtype) {
      case DType::I64: { int64_t v; std::memcpy(&v, t.data + 8 * i, 8); out[i] = v; break; }
      case DType::I32: { int32_t v; std::memcpy(&v, t.data + 4 * i, 4); out[i] = v; break; }
      case DType::U8: out[i] = t.data[i]; break;
      default: throw Error(*t.file + ": tensor " + t.name + " is not an integer tensor");
    }
  }
  return out;
}

// ---------------------------------------------------------------- writer

void SafeTensorsWriter::add(const std::string& name, DType dtype, const std::vector<int64_t>& shape,
                            const void* data, size_t nbytes) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  check(static_cast<size_t>(n) * dtype_size(dtype) == nbytes, "SafeTensorsWriter: size mismatch for " + name);
  for (auto& e : entries_) check(e.name != name, "SafeTensorsWriter: duplicate tensor " + name);
  entries_.push_back({name, dtype, shape, std::string(static_cast<const char*>(data), nbytes)});
}

void SafeTensorsWriter::add_f32(const std::string& name, const std::vector<int64_t>& shape, const float* data) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  add(name, DType::F32, shape, data, static_cast<size_t>(n) * 4);
}

void SafeTensorsWriter::add_bf16(const std::string& name, const std::vector<int64_t>& shape, const float* data) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::vector<uint16_t> h(static_cast<size_t>(n));
  for (size_t i = 0; i < h.size(); ++i) h[i] = f32_to_bf16(data[i]);
  add(name, DType::BF16, shape, h.data(), h.size() * 2);
}

size_t SafeTensorsWriter::payload_bytes() const {
  size_t n = 0;
  for (auto& e : entries_) n += e.bytes.size();
  return n;
}

std::string SafeTensorsWriter::serialize() const {
  json header = json::object();
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  uint64_t off = 0;
  for (auto& e : entries_) {
    header[e.name] = {{"dtype", std::string(dtype_name(e.dtype))},
                      {"shape", e.shape},
                      {"data_offsets", {off, off + e.bytes.size()}}};
    off += e.bytes.size();
  }
  std::string h = header.dump();
  while ((h.size() + 8) % 8) h.push_back(' ');  // keeps tensor data 8-byte aligned
  std::string out;
  out.reserve(8 + h.size() + off);
  uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out += h;
  for (auto& e : entries_) out += e.bytes;
  return out;
}

void SafeTensorsWriter::write(const fs::path& path) const { write_file_atomic(path, serialize()); }

void SafeTensorsWriter::write_sharded(const fs::path& dir, size_t max_shard_bytes) const {
  std::vector<std::vector<const Entry*>> shards(1);
  size_t cur = 0;
  for (auto& e : entries_) {
    if (cur > 0 && cur + e.bytes.size() > max_shard_bytes) {
      shards.emplace_back();
      cur = 0;
    }
    shards.back().push_back(&e);
    cur += e.bytes.size();
  }
  fs::create_directories(dir);
  json weight_map = json::object();
  const size_t n = shards.size();
  for (size_t i = 0; i < n; ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", i + 1, n);
    SafeTensorsWriter w;
    w.metadata_ = metadata_;
    for (const Entry* e : shards[i]) {
      w.entries_.push_back(*e);
      weight_map[e->name] = name;
    }
    w.write(dir / name);
  }
  json index = {{"metadata", {{"total_size", payload_bytes()}}}, {"weight_map", weight_map}};
  write_file_atomic(dir / "model.safetensors.index.json", index.dump(2));
}

}  // namespace emu35
