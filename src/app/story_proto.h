// The upstream Story protobuf (proto/interleave_story.proto), filled the way
// upstream's ProtoWriter does: question, reference pictures, global CoT as the
// summary, each text segment as a clip, image CoT + picture as ImageMeta of the
// last clip. Pictures are stored as PNG bytes.
#pragma once
#include <emu35/emu35.h>

#include <string>
#include <vector>

namespace emu35::app {

std::string story_proto_bytes(const std::string& story_id, const std::string& question,
                              const std::vector<Image>& reference_images, const Output& o);

}  // namespace emu35::app
