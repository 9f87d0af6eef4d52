// The DG_EMU35_* environment variables diffgentor users set, read strictly: an
// unparseable value is an Error naming the variable and the value, never a
// silent default (diffgentor's helper falls back silently).
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace emu35::app::edit {

// getenv, or a map in tests. Returns nullptr when unset.
using EnvLookup = std::function<const char*(const char*)>;
EnvLookup process_env();

// Strict number parsing (whole string, surrounding blanks allowed); `what`
// names the source in the Error ("DG_EMU35_CFG", "--filter_rows", ...).
int64_t parse_int_strict(const std::string& text, const std::string& what);
double parse_float_strict(const std::string& text, const std::string& what);

// Devices as EngineOptions will see them: "auto", "cpu", "cuda", "cuda:N".
// Anything else is an Error naming `what`.
std::string check_device(const std::string& value, const std::string& what);

struct Emu35Env {
  std::string vq_path;         // DG_EMU35_VQ_PATH (required by the caller unless --vq)
  std::string tokenizer_path;  // DG_EMU35_TOKENIZER_PATH; empty = the model folder
  float cfg = 3.0f;            // DG_EMU35_CFG
  int max_new_tokens = 5120;   // DG_EMU35_MAX_NEW_TOKENS
  int64_t image_area = 1048576;  // DG_EMU35_IMAGE_AREA
  std::string hf_device = "auto";  // DG_EMU35_HF_DEVICE
  std::string vq_device;           // DG_EMU35_VQ_DEVICE; empty = same as the model
  std::string vq_type = "ibq";     // DG_EMU35_VQ_TYPE: only ibq exists
  int gpus_per_model = 0;          // DG_EMU35_GPUS_PER_MODEL; 0 = one instance on all GPUs
};

// Reads and checks every DG_EMU35_* variable (defaults for unset ones).
// A variable set to an empty string is an error too (unset it instead).
Emu35Env read_emu35_env(const EnvLookup& env);

}  // namespace emu35::app::edit
