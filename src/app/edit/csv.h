// RFC 4180 CSV: quoted fields, doubled quotes, embedded commas and newlines.
// A malformed record is reported on its own (with its line) so one bad row in a
// dataset fails alone instead of aborting the run.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace emu35::app::edit {

struct CsvRecord {
  size_t line = 0;                  // 1-based line where the record starts
  std::vector<std::string> fields;  // as parsed (quotes removed, "" -> ")
  std::string error;                // non-empty: the record is malformed
};

// Every record of the text, the header included. Blank lines are skipped; a
// UTF-8 BOM is dropped; line ends may be \n, \r\n or \r. Errors: an unterminated
// quoted field (parsing resumes on the line after the record's first line) and
// text after a closing quote (resumes after that physical line).
std::vector<CsvRecord> parse_csv(std::string_view text);

// One field for output: quoted when it holds a comma, quote, CR, LF or
// leading/trailing blank.
std::string csv_field(std::string_view v);
// Fields joined with commas, ending in "\n".
std::string csv_line(const std::vector<std::string>& fields);

}  // namespace emu35::app::edit
