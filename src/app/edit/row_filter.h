// --filter_rows: which data rows (0-based positions in file order, blank lines
// not counted) a run considers. "0:100" (positions 0..99), "100:" (100 to the
// end), ":50", "0,5,10", or a comma list mixing both ("0:10,20,30:40").
#pragma once
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace emu35::app::edit {

class RowFilter {
 public:
  RowFilter() = default;  // everything
  static RowFilter parse(const std::string& spec);  // Error naming --filter_rows on bad syntax
  bool all() const { return ranges_.empty(); }
  bool contains(size_t position) const;
  const std::vector<std::pair<size_t, size_t>>& ranges() const { return ranges_; }  // [first, last)

 private:
  std::vector<std::pair<size_t, size_t>> ranges_;
};

}  // namespace emu35::app::edit
