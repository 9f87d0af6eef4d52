#include "app/edit/dataset.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>

#include "app/edit/csv.h"
#include "app/edit/image_refs.h"
#include "app/edit/output_names.h"
#include "common/error.h"
#include "common/file_util.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace emu35::app::edit {

namespace {

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\n"), b = s.find_last_not_of(" \t\r\n");
  return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

[[noreturn]] void parquet_unsupported(const fs::path& p) {
  throw Error(p.string() +
              ": Parquet input is not supported: no Parquet reader is packaged in Debian 12, which this build "
              "depends on. Convert the table to CSV or JSONL first, e.g. with pandas: "
              "pd.read_parquet(\"data.parquet\").to_json(\"data.jsonl\", orient=\"records\", lines=True) "
              "(pictures embedded in the table must be saved as files and listed in input_images)");
}

// Index text -> value; a row whose index is not a non-negative integer fails.
void set_index(EditRow& r, const std::string& text) {
  r.index_text = text;
  const std::string t = trim(text);
  const bool digits = !t.empty() && t.find_first_not_of("0123456789") == std::string::npos;
  if (!digits || t.size() > 15) {
    r.error = "index \"" + text + "\" is not a non-negative integer";
    return;
  }
  r.index = std::stoll(t);
}

// The fields every row shares, once the format-specific part is read.
void finish_row(EditRow& r, const DatasetOptions& opt, const fs::path& base_dir) {
  if (r.error.empty() && trim(r.instruction).empty())
    r.error = "empty instruction (" + opt.instruction_key + ")";
  if (r.error.empty() && r.images.empty())
    r.error = "no input pictures (input_images is empty): an edit needs at least one";
  if (r.error.empty()) {
    try {
      for (auto& ref : r.images) ref = resolve_image_ref(ref, base_dir);
      std::string name;
      if (!opt.output_name_column.empty()) {
        auto it = r.fields.find(opt.output_name_column);
        if (it != r.fields.end()) name = custom_output_name(it->second);
      }
      r.output_name = name.empty() ? index_output_name(*r.index) : name;
    } catch (const Error& e) {
      r.error = e.what();
    }
  }
}

Dataset load_csv(const fs::path& input, const DatasetOptions& opt) {
  Dataset d;
  d.format = "csv";
  const std::vector<CsvRecord> recs = parse_csv(read_whole_file(input));
  if (recs.empty()) throw Error(input.string() + ": empty file (expected a header row and data rows)");
  const CsvRecord& head = recs.front();
  if (!head.error.empty()) throw Error(input.string() + ": cannot read the header row: " + head.error);
  std::vector<std::string> header;
  std::set<std::string> seen;
  for (auto& h : head.fields) {
    std::string name = trim(h);
    if (name.empty()) throw Error(input.string() + ": the header has an empty column name");
    if (!seen.insert(name).second) throw Error(input.string() + ": column \"" + name + "\" appears twice in the header");
    header.push_back(name);
  }
  if (!seen.count(opt.instruction_key))
    throw Error(input.string() + ": no \"" + opt.instruction_key + "\" column (the edit instruction; --instruction_key names it)");
  if (!seen.count("input_images"))
    throw Error(input.string() + ": no \"input_images\" column: every row needs at least one input picture");
  if (!opt.output_name_column.empty() && !seen.count(opt.output_name_column))
    throw Error(input.string() + ": no \"" + opt.output_name_column + "\" column (--output_name_column)");
  d.columns = header;
  std::sort(d.columns.begin(), d.columns.end());
  const bool has_index = seen.count("index") > 0;
  const fs::path base_dir = input.parent_path();
  for (size_t k = 1; k < recs.size(); ++k) {
    const CsvRecord& rec = recs[k];
    EditRow r;
    r.position = k - 1;
    r.line = rec.line;
    r.index_text = std::to_string(r.position);
    if (!rec.error.empty()) {
      r.error = "malformed CSV row: " + rec.error;
    } else if (rec.fields.size() != header.size()) {
      r.error = "malformed CSV row: " + std::to_string(rec.fields.size()) + " fields, the header has " +
                std::to_string(header.size());
    }
    if (r.error.empty() || rec.fields.size() == header.size())
      for (size_t c = 0; c < header.size() && c < rec.fields.size(); ++c) r.fields[header[c]] = rec.fields[c];
    if (r.error.empty()) {
      if (has_index) set_index(r, r.fields["index"]);
      else r.index = static_cast<int64_t>(r.position);
    }
    if (r.error.empty()) {
      r.instruction = r.fields[opt.instruction_key];
      r.images_text = r.fields["input_images"];
      try {
        r.images = parse_image_cell(r.images_text);
      } catch (const Error& e) {
        r.error = e.what();
      }
    }
    finish_row(r, opt, base_dir);
    d.rows.push_back(std::move(r));
  }
  return d;
}

std::string json_cell(const json& v) { return v.is_string() ? v.get<std::string>() : v.is_null() ? "" : v.dump(); }

Dataset load_jsonl(const fs::path& input, const DatasetOptions& opt) {
  Dataset d;
  d.format = "jsonl";
  const std::string text = read_whole_file(input);
  std::set<std::string> columns;
  bool any_instruction = false;
  size_t pos = 0, line = 0, start = 0;
  const fs::path base_dir = input.parent_path();
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string l = text.substr(start, end - start);
    start = end + 1;
    ++line;
    if (line == 1 && l.size() >= 3 && l.compare(0, 3, "\xEF\xBB\xBF") == 0) l.erase(0, 3);
    if (trim(l).empty()) continue;
    EditRow r;
    r.position = pos++;
    r.line = line;
    r.index_text = std::to_string(r.position);
    json j = json::parse(l, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      r.error = "malformed JSONL row: not valid JSON";
    } else if (!j.is_object()) {
      r.error = "malformed JSONL row: expected a JSON object";
    } else {
      for (auto& [k, v] : j.items()) {
        r.fields[k] = json_cell(v);
        columns.insert(k);
      }
      if (j.contains("index")) {
        const json& ix = j["index"];
        if (ix.is_number_unsigned()) {
          r.index = ix.get<int64_t>();
          r.index_text = std::to_string(*r.index);
        } else {
          r.index_text = json_cell(ix);
          r.error = "index " + ix.dump() + " is not a non-negative integer";
        }
      } else {
        r.index = static_cast<int64_t>(r.position);
      }
      if (r.error.empty()) {
        if (!j.contains(opt.instruction_key) || !j[opt.instruction_key].is_string()) {
          r.error = "no \"" + opt.instruction_key + "\" string field (the edit instruction)";
        } else {
          any_instruction = true;
          r.instruction = j[opt.instruction_key].get<std::string>();
        }
      }
      if (r.error.empty()) {
        try {
          const json& im = j.contains("input_images") ? j["input_images"] : json(nullptr);
          r.images_text = json_cell(im);
          r.images = image_refs_from_json(im);
        } catch (const Error& e) {
          r.error = e.what();
        }
      }
      if (r.error.empty() && !opt.output_name_column.empty() && j.contains(opt.output_name_column) &&
          !j[opt.output_name_column].is_string() && !j[opt.output_name_column].is_null())
        r.error = "field \"" + opt.output_name_column + "\" (--output_name_column) must be a string";
    }
    finish_row(r, opt, base_dir);
    d.rows.push_back(std::move(r));
  }
  if (d.rows.empty()) throw Error(input.string() + ": no rows (expected one JSON object per line)");
  if (!any_instruction && !columns.count(opt.instruction_key))
    throw Error(input.string() + ": no row has an \"" + opt.instruction_key +
                "\" field (the edit instruction; --instruction_key names it)");
  d.columns.assign(columns.begin(), columns.end());
  return d;
}

// Two rows writing the same file would overwrite each other: the later fails.
void flag_duplicates(Dataset& d) {
  std::unordered_map<std::string, size_t> first_line;
  for (auto& r : d.rows) {
    if (!r.error.empty()) continue;
    auto [it, fresh] = first_line.emplace(r.output_name, r.line);
    if (!fresh)
      r.error = "output " + r.output_name + " is also the output of the row on line " + std::to_string(it->second) +
                " (duplicate index or output name)";
  }
}

}  // namespace

Dataset load_dataset(const fs::path& input, const DatasetOptions& opt) {
  if (fs::is_directory(input)) {
    for (auto& e : fs::directory_iterator(input))
      if (lower(e.path().extension().string()) == ".parquet") parquet_unsupported(input);
    throw Error(input.string() + ": is a folder; --input takes a .csv or .jsonl file");
  }
  const std::string ext = lower(input.extension().string());
  if (ext == ".parquet") parquet_unsupported(input);
  if (!fs::exists(input)) throw Error(input.string() + ": no such file (--input)");
  Dataset d;
  if (ext == ".csv") d = load_csv(input, opt);
  else if (ext == ".jsonl" || ext == ".ndjson") d = load_jsonl(input, opt);
  else throw Error(input.string() + ": unsupported input format \"" + ext + "\" (expected .csv or .jsonl)");
  d.source = input;
  flag_duplicates(d);
  return d;
}

}  // namespace emu35::app::edit
