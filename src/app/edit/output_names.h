// Where a row's picture goes inside --output_dir: "%06d.png" of its index, or
// the --output_name_column value (diffgentor's rule: .png/.jpg/.jpeg kept with
// the extension lower-cased, anything else gets ".png" appended), confined to
// the output folder: absolute paths and ".." are refused.
#pragma once
#include <cstdint>
#include <string>

#include "image/image_format.h"

namespace emu35::app::edit {

std::string index_output_name(int64_t index);  // 42 -> "000042.png"

// Trimmed value -> relative path ("a/b.webp" -> "a/b.webp.png"). Returns "" for
// a blank value (the caller falls back to the index name). Throws Error for an
// absolute path, a ".." component or a name that is only a folder.
std::string custom_output_name(const std::string& value);

ImageFormat output_format_for(const std::string& name);  // JPEG for .jpg/.jpeg, else PNG

}  // namespace emu35::app::edit
