// Generated tokenizer files for random-weight test models: a byte-level
// emu3.tiktoken of 256 single-byte ranks (in the real file's order, so '0'..'9'
// and '*' keep their real ids 15..24 and 9) and the full emu3_vision_tokens.txt.
// The special and visual tokens sit at their real ids.
#pragma once
#include <filesystem>

namespace emu35 {

void write_byte_level_tokenizer(const std::filesystem::path& dir);

}  // namespace emu35
