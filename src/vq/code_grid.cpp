#include "vq/code_grid.h"

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace emu35::vq {

std::string code_grid_to_json(const CodeGrid& g) {
  std::string s = "{\"height\": " + std::to_string(g.h) + ", \"width\": " + std::to_string(g.w) + ", \"codes\": [";
  for (int y = 0; y < g.h; ++y) {
    s += y ? ",\n  [" : "\n  [";
    for (int x = 0; x < g.w; ++x) s += (x ? ", " : "") + std::to_string(g.at(y, x));
    s += "]";
  }
  s += g.h ? "\n]}\n" : "]}\n";
  return s;
}

CodeGrid code_grid_from_json(const std::string& text, const std::string& src, int64_t n_embed) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(src + ": not valid JSON: " + e.what());
  }
  const nlohmann::json* rows = &j;
  if (j.is_object()) {
    auto it = j.find("codes");
    if (it == j.end()) throw Error(src + ": missing field \"codes\"");
    rows = &*it;
  }
  if (!rows->is_array() || rows->empty()) throw Error(src + ": \"codes\" must be a non-empty list of rows");
  CodeGrid g;
  g.h = int(rows->size());
  for (size_t y = 0; y < rows->size(); ++y) {
    const auto& row = (*rows)[y];
    if (!row.is_array() || row.empty()) throw Error(src + ": codes row " + std::to_string(y) + " is not a non-empty list");
    if (y == 0) g.w = int(row.size());
    if (row.size() != size_t(g.w))
      throw Error(src + ": codes row " + std::to_string(y) + " has " + std::to_string(row.size()) +
                  " entries, row 0 has " + std::to_string(g.w) + " (rows must be equally long)");
    for (size_t x = 0; x < row.size(); ++x) {
      const auto& v = row[x];
      if (!v.is_number_integer())
        throw Error(src + ": code at row " + std::to_string(y) + ", column " + std::to_string(x) + " is not an integer");
      const int64_t id = v.get<int64_t>();
      if (id < 0 || (n_embed > 0 && id >= n_embed) || id > INT32_MAX)
        throw Error(src + ": code " + std::to_string(id) + " at row " + std::to_string(y) + ", column " +
                    std::to_string(x) + " is outside the codebook [0, " + std::to_string(n_embed) + ")");
      g.codes.push_back(int32_t(id));
    }
  }
  if (j.is_object()) {
    for (const char* key : {"height", "width"}) {
      auto it = j.find(key);
      if (it == j.end()) continue;
      const int want = key[0] == 'h' ? g.h : g.w;
      if (!it->is_number_integer() || it->get<int64_t>() != want)
        throw Error(src + ": \"" + key + "\" is " + it->dump() + " but the codes have " + std::to_string(want) +
                    (key[0] == 'h' ? " rows" : " columns"));
    }
  }
  return g;
}

}  // namespace emu35::vq
