// The rows of an edit dataset (CSV or JSONL) with what each row needs: index,
// instruction, input pictures and output name. Problems with one row are kept
// on that row (it fails into failures.csv); problems with the whole file
// (unreadable, no instruction column, Parquet) throw before any weights load.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace emu35::app::edit {

struct EditRow {
  size_t position = 0;             // 0-based data row (what --filter_rows counts)
  size_t line = 0;                 // 1-based line where the row starts, for messages
  std::optional<int64_t> index;    // the `index` column, or the position
  std::string index_text;          // as written (for failures.csv when it did not parse)
  std::map<std::string, std::string> fields;  // column -> value as text (for results.csv)
  std::string instruction;
  std::string images_text;         // the input_images cell as written
  std::vector<std::string> images; // resolved: absolute/relative-to-cwd paths or http(s) URLs
  std::string output_name;         // relative to --output_dir
  std::string error;               // non-empty: the row fails without generating
};

struct Dataset {
  std::filesystem::path source;
  std::string format;                // "csv" or "jsonl"
  std::vector<std::string> columns;  // input columns, sorted (diffgentor sorts results columns)
  std::vector<EditRow> rows;
};

struct DatasetOptions {
  std::string instruction_key = "instruction";
  std::string output_name_column;  // empty: names come from the index
};

// .csv, .jsonl (also .ndjson); a .parquet file or a folder of them is an Error
// that suggests converting; any other suffix is an Error. Duplicate indices or
// output names make the later rows fail (they would overwrite each other).
Dataset load_dataset(const std::filesystem::path& input, const DatasetOptions& opt);

}  // namespace emu35::app::edit
