// Readers for the two upstream tokenizer files, with strict validation: any
// malformed line is an emu35::Error naming the file and the line number.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace emu35::text {

// emu3.tiktoken: lines "<base64 bytes> <rank>", ranks 0,1,2,... in order, at
// most tok::NUM_BPE_RANKS of them. Blank lines are skipped (as tiktoken does).
// Returns the token bytes indexed by rank.
std::vector<std::string> read_tiktoken_file(const std::filesystem::path& path);

// emu3_vision_tokens.txt: "<|image token|>", "<|image start|>", "<|image end|>",
// then "<|visual token 000000|>", "<|visual token 000001|>", ... (at most
// tok::NUM_VISUAL). Returns the number of visual tokens.
int32_t read_vision_tokens_file(const std::filesystem::path& path);

// Standard base64 (RFC 4648, '=' padding required); false on any bad input.
bool base64_decode(std::string_view in, std::string& out);

}  // namespace emu35::text
