#include "app/edit/row_filter.h"

#include <limits>

#include "app/edit/env_vars.h"
#include "common/error.h"

namespace emu35::app::edit {

namespace {
std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
  return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

size_t position(const std::string& text, const std::string& spec) {
  const std::string what = "--filter_rows \"" + spec + "\"";
  if (text.find_first_not_of("0123456789") != std::string::npos)
    throw Error(what + ": \"" + text + "\" is not a row number (rows count from 0)");
  return static_cast<size_t>(parse_int_strict(text, what));
}
}  // namespace

RowFilter RowFilter::parse(const std::string& spec) {
  RowFilter f;
  if (trim(spec).empty()) throw Error("--filter_rows: empty (expected e.g. 0:100, 100: or 0,5,10)");
  size_t start = 0;
  while (start <= spec.size()) {
    size_t comma = spec.find(',', start);
    if (comma == std::string::npos) comma = spec.size();
    const std::string item = trim(spec.substr(start, comma - start));
    if (item.empty()) throw Error("--filter_rows \"" + spec + "\": empty item in the list");
    const size_t colon = item.find(':');
    if (colon == std::string::npos) {
      size_t p = position(item, spec);
      f.ranges_.push_back({p, p + 1});
    } else {
      const std::string a = trim(item.substr(0, colon)), b = trim(item.substr(colon + 1));
      if (b.find(':') != std::string::npos) throw Error("--filter_rows \"" + spec + "\": steps are not supported");
      size_t lo = a.empty() ? 0 : position(a, spec);
      size_t hi = b.empty() ? std::numeric_limits<size_t>::max() : position(b, spec);
      if (hi < lo) throw Error("--filter_rows \"" + spec + "\": range " + item + " ends before it starts");
      f.ranges_.push_back({lo, hi});
    }
    start = comma + 1;
  }
  return f;
}

bool RowFilter::contains(size_t p) const {
  if (ranges_.empty()) return true;
  for (auto& [lo, hi] : ranges_)
    if (p >= lo && p < hi) return true;
  return false;
}

}  // namespace emu35::app::edit
