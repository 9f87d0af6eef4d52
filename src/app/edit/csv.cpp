#include "app/edit/csv.h"

namespace emu35::app::edit {

namespace {

bool is_eol(char c) { return c == '\n' || c == '\r'; }

// Start of the next physical line after position i.
size_t next_line_start(std::string_view t, size_t i, size_t* line) {
  while (i < t.size() && !is_eol(t[i])) ++i;
  if (i < t.size()) {
    ++*line;
    if (t[i] == '\r' && i + 1 < t.size() && t[i + 1] == '\n') ++i;
    ++i;
  }
  return i;
}

}  // namespace

std::vector<CsvRecord> parse_csv(std::string_view t) {
  if (t.size() >= 3 && t.substr(0, 3) == "\xEF\xBB\xBF") t.remove_prefix(3);
  std::vector<CsvRecord> out;
  size_t i = 0, line = 1;
  const size_t n = t.size();
  while (i < n) {
    // Blank lines are not records.
    if (is_eol(t[i])) {
      ++line;
      if (t[i] == '\r' && i + 1 < n && t[i + 1] == '\n') ++i;
      ++i;
      continue;
    }
    CsvRecord rec;
    rec.line = line;
    const size_t rec_start = i, rec_line = line;
    std::string field;
    bool done = false;
    while (!done) {
      field.clear();
      if (i < n && t[i] == '"') {
        ++i;
        bool closed = false;
        while (i < n) {
          char c = t[i];
          if (c == '"') {
            if (i + 1 < n && t[i + 1] == '"') {
              field.push_back('"');
              i += 2;
              continue;
            }
            ++i;
            closed = true;
            break;
          }
          if (c == '\n' || (c == '\r' && !(i + 1 < n && t[i + 1] == '\n'))) ++line;
          field.push_back(c);
          ++i;
        }
        if (!closed) {
          rec.error = "unterminated quoted field (a \" opened on line " + std::to_string(rec_line) +
                      " is never closed)";
          // Resume on the line after the record's first line.
          line = rec_line;
          i = next_line_start(t, rec_start, &line);
          rec.fields.clear();
          break;
        }
        if (i < n && t[i] != ',' && !is_eol(t[i])) {
          rec.error = "text after a closing quote on line " + std::to_string(line) +
                      " (quote the whole field and double the quotes inside it)";
          i = next_line_start(t, i, &line);
          rec.fields.clear();
          break;
        }
      } else {
        // Unquoted: up to the comma or line end; stray quotes are kept literally.
        while (i < n && t[i] != ',' && !is_eol(t[i])) field.push_back(t[i++]);
      }
      rec.fields.push_back(field);
      if (i < n && t[i] == ',') {
        ++i;
        continue;
      }
      // End of record.
      if (i < n) {
        ++line;
        if (t[i] == '\r' && i + 1 < n && t[i + 1] == '\n') ++i;
        ++i;
      }
      done = true;
    }
    out.push_back(std::move(rec));
  }
  return out;
}

std::string csv_field(std::string_view v) {
  bool quote = !v.empty() && (v.front() == ' ' || v.front() == '\t' || v.back() == ' ' || v.back() == '\t');
  for (char c : v)
    if (c == ',' || c == '"' || c == '\n' || c == '\r') quote = true;
  if (!quote) return std::string(v);
  std::string s = "\"";
  for (char c : v) {
    if (c == '"') s.push_back('"');
    s.push_back(c);
  }
  s.push_back('"');
  return s;
}

std::string csv_line(const std::vector<std::string>& fields) {
  std::string s;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) s.push_back(',');
    s += csv_field(fields[i]);
  }
  s.push_back('\n');
  return s;
}

}  // namespace emu35::app::edit
