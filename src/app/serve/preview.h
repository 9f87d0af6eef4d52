// The picture being drawn, cut to its finished rows: what live previews decode.
#pragma once
#include <cstdint>
#include <optional>
#include <span>

#include "vq/code_grid.h"

namespace emu35::app::serve {

// `answer`: the generated ids (with the prompt's trailing <|image start|>
// when the prompt opened the picture). Returns the complete rows of the last
// picture that is still open (no <|image end|> yet), or nullopt when none is
// open or no row is finished.
std::optional<vq::CodeGrid> partial_picture(std::span<const int32_t> answer);

}  // namespace emu35::app::serve
