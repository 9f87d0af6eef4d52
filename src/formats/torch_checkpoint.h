// PyTorch checkpoints written by torch.save (the zip format of torch >= 1.6):
// `<archive>/data.pkl` (a pickle of the state dict, read with the safe
// unpickler in formats/pickle.h) plus one zip entry `<archive>/data/<key>` per
// tensor storage. The state dict is the pickle's top-level dict, or its
// "state_dict" entry when there is one (Lightning-style checkpoints).
// Nothing in the file is ever executed.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "formats/dtype.h"

namespace emu35 {

// A float32 tensor, row-major.
struct FloatTensor {
  std::vector<int64_t> shape;
  std::vector<float> data;

  int64_t numel() const;
  std::string shape_str() const;  // "[3, 4]"
};

using StateDict = std::map<std::string, FloatTensor>;

// One tensor of a torch.save state dict as data.pkl describes it (no data read).
struct TorchTensorInfo {
  std::string name;
  DType dtype = DType::F32;       // the storage's element type
  std::vector<int64_t> shape;
  std::vector<int64_t> stride;    // in elements
  int64_t storage_offset = 0;     // in elements
  std::string storage_key;        // zip entry <archive>/data/<key>
  int64_t storage_numel = 0;      // elements in the whole storage

  int64_t numel() const;
  bool contiguous() const;        // row-major strides (dims of size 1 may have any stride)
};

// The state dict's tensor records from data.pkl bytes, in file order. Errors
// (forbidden globals, unsupported opcodes, non-tensor entries, out-of-range
// views) name `source`.
std::vector<TorchTensorInfo> parse_torch_state_dict_pickle(std::string_view pkl, const std::string& source);

// Loads every tensor of a torch.save zip as float32 (float32/float16/bfloat16
// storages; integer storages are converted too). Contiguous views at any
// storage offset are accepted; non-contiguous ones are an Error. Requires
// libzip (EMU35_HAVE_LIBZIP); without it this throws, pointing at the
// config.json + model.safetensors form.
StateDict load_torch_checkpoint(const std::filesystem::path& file);

// Whether this build can read torch.save zips.
bool torch_checkpoint_supported();

}  // namespace emu35
