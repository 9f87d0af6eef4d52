// safetensors checkpoints: one file, or shards listed by model.safetensors.index.json.
// Files are memory-mapped; tensors are views into the mapping in their stored dtype.
// Everything in the header is validated, so a bad file is an Error naming the
// file and the tensor, never a crash.
#pragma once
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/mapped_file.h"
#include "formats/dtype.h"

namespace emu35 {

struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;  // inside the mapping; may be unaligned
  size_t nbytes = 0;
  const std::string* file = nullptr;  // shard the tensor lives in

  int64_t numel() const;
  std::string shape_str() const;  // "[3, 4]"
};

class SafeTensors {
 public:
  // `path` is a .safetensors file, a *.safetensors.index.json, or a directory
  // holding model.safetensors.index.json or model.safetensors.
  static SafeTensors open(const std::filesystem::path& path);

  const TensorView* find(std::string_view name) const;
  const TensorView& get(std::string_view name) const;  // Error when missing
  // Also checks dtype-independent shape; Error names tensor, expected and actual shapes.
  const TensorView& get(std::string_view name, const std::vector<int64_t>& shape) const;
  bool has(std::string_view name) const { return find(name) != nullptr; }
  std::vector<std::string> names() const;  // sorted
  size_t size() const { return tensors_.size(); }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::string& source() const { return source_; }  // what was opened, for messages

  // A float32 copy of a floating-point tensor (any stored float dtype).
  std::vector<float> to_f32(std::string_view name) const;
  std::vector<int64_t> to_i64(std::string_view name) const;  // I64/I32/U8 tensors

 private:
  void add_file(const std::filesystem::path& file, const std::vector<std::string>* expected);
  std::string source_;
  std::vector<std::unique_ptr<MappedFile>> files_;
  std::vector<std::unique_ptr<std::string>> file_names_;
  std::unordered_map<std::string, TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

// Builds a safetensors file in memory and writes it atomically.
class SafeTensorsWriter {
 public:
  void add(const std::string& name, DType dtype, const std::vector<int64_t>& shape, const void* data,
           size_t nbytes);
  void add_f32(const std::string& name, const std::vector<int64_t>& shape, const float* data);
  void add_bf16(const std::string& name, const std::vector<int64_t>& shape, const float* data);  // rounds
  void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }
  std::string serialize() const;
  void write(const std::filesystem::path& path) const;
  // Shards of at most `max_shard_bytes` plus model.safetensors.index.json, named
  // model-00001-of-0000N.safetensors as Hugging Face does.
  void write_sharded(const std::filesystem::path& dir, size_t max_shard_bytes) const;
  size_t payload_bytes() const;

 private:
  struct Entry {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    std::string bytes;
  };
  std::vector<Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace emu35
