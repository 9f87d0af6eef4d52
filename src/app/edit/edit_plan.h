// What one edit process works with once flags, environment and dataset are
// resolved: the settings every row shares, where its tables go, and its rows.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "app/edit/dataset.h"
#include "app/edit/run_log.h"

namespace emu35::app::edit {

struct EditSettings {
  std::filesystem::path model_dir, vq_dir, tokenizer_dir, output_dir, image_cache_dir;
  float cfg = 3.0f;
  int max_new_tokens = 5120;
  int64_t image_area = 1048576;
  std::string device = "auto", vq_device;  // vq_device empty = the model's device
  uint64_t base_seed = 6666;               // row seed = base_seed + row index
  int batch_size = 1, threads = 0;
  bool start_image = false, allow_remote_images = false, quiet = false;
};

struct ProcessPlacement {
  int node_rank = 0, num_nodes = 1, local_rank = 0, num_workers = 1;
  // "[Process p]" in messages; the rank in log lines.
  std::string tag() const { return "[Process " + std::to_string(local_rank) + "]"; }
};

// diffgentor's per-process suffix: "", "_node1", "_process0", "_node1_process0".
std::string process_suffix(const ProcessPlacement& p);
// <stem><suffix><ext> beside `path`.
std::filesystem::path with_suffix(const std::filesystem::path& path, const std::string& suffix);

// The failures table beside a results table: results*.csv -> failures*.csv
// (results_3.csv -> failures_3.csv), any other name.csv -> name_failures.csv.
std::filesystem::path failures_path_for(const std::filesystem::path& results_csv);

// results.csv columns: the input columns (sorted) without ours, then ours.
std::vector<std::string> results_columns(const Dataset& d);
const std::vector<std::string>& failures_columns();

struct Tables {
  std::filesystem::path results, failures;
};

// Loads the model, edits `rows`, appends results/failures; returns the exit
// code (0 all ok, 1 any failure, 130 interrupted).
int process_rows(const EditSettings& s, const Dataset& d, const std::vector<const EditRow*>& rows,
                 const ProcessPlacement& where, const Tables& tables, RunLog& log);

}  // namespace emu35::app::edit
