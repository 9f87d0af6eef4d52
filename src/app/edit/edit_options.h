// Everything `emu35 edit` (and `diffgentor edit`) was asked on the command
// line; environment variables are read later, in run_edit.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace emu35::app::edit {

struct EditOptions {
  // diffgentor's flags
  std::string backend = "emu35";
  std::string model_name, input, output_dir, output_csv, log_dir, image_cache_dir;
  std::string instruction_key = "instruction";
  std::string output_name_column, filter_rows;
  std::optional<uint64_t> seed;
  bool no_resume = false;
  std::optional<int> node_rank, num_nodes, num_gpus;
  int batch_size = 1;
  std::optional<std::string> device;  // --device; overrides DG_EMU35_HF_DEVICE
  // ours
  std::optional<std::string> vq, tokenizer;  // override DG_EMU35_VQ_PATH / _TOKENIZER_PATH
  std::optional<float> cfg;                  // overrides DG_EMU35_CFG
  std::optional<int> max_new_tokens;         // overrides DG_EMU35_MAX_NEW_TOKENS
  std::optional<int64_t> image_area;         // overrides DG_EMU35_IMAGE_AREA
  std::optional<int> gpus_per_model;         // overrides DG_EMU35_GPUS_PER_MODEL
  bool start_image = false, allow_remote_images = false, quiet = false;
  int threads = 0;
  // set by the parent for a worker of a multi-GPU host (hidden flags)
  std::optional<int> local_rank, num_workers;
  std::string row_range;  // "A:B": positions this worker owns (before the skip check)
  // flags accepted for compatibility and reported once as ignored
  std::vector<std::string> ignored;
};

// Runs the whole command; returns the exit code (0 all rows ok, 1 any failed
// or a fatal error, 130 interrupted). Fatal input errors throw Error.
int run_edit(const EditOptions& opt);

}  // namespace emu35::app::edit
