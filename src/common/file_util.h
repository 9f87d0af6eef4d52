// Small file helpers: whole-file reads and atomic writes (temp file + rename),
// so a crash never leaves a half-written output behind.
#pragma once
#include <filesystem>
#include <string>
#include <string_view>

namespace emu35 {

std::string read_whole_file(const std::filesystem::path& p);  // throws Error naming the file

// Writes bytes to `<p>.tmp.<pid>` in the same folder, fsyncs, renames over p.
void write_file_atomic(const std::filesystem::path& p, std::string_view bytes);

}  // namespace emu35
