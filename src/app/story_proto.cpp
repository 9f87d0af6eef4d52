#include "app/story_proto.h"

#include <cstdio>

#include "common/error.h"
#include "image/image_write.h"
#include "interleave_story.pb.h"

namespace emu35::app {

namespace {
void fill_image(emu3p5::story::Image* dst, const Image& img) {
  dst->set_width(img.width);
  dst->set_height(img.height);
  dst->set_format(emu3p5::story::PNG);
  dst->set_image_data(encode_png(img));
}

emu3p5::story::Segment* last_segment(emu3p5::story::Story& s) {
  if (s.clips_size() == 0) {
    auto* c = s.add_clips();
    c->set_clip_id("clip_0000");
  }
  auto* clip = s.mutable_clips(s.clips_size() - 1);
  if (clip->segments_size() == 0) clip->add_segments();
  return clip->mutable_segments(0);
}
}  // namespace

std::string story_proto_bytes(const std::string& story_id, const std::string& question,
                              const std::vector<Image>& refs, const Output& o) {
  emu3p5::story::Story s;
  s.set_story_id(story_id);
  s.set_question(question);
  for (const Image& r : refs) fill_image(s.add_reference_images()->mutable_image(), r);
  size_t img = 0;
  char id[32];
  for (const Segment& seg : o.segments) {
    switch (seg.kind) {
      case Segment::Kind::GlobalCot:
        s.set_summary(seg.text);
        break;
      case Segment::Kind::Text: {
        auto* c = s.add_clips();
        std::snprintf(id, sizeof id, "clip_%04d", s.clips_size() - 1);
        c->set_clip_id(id);
        c->add_segments()->set_asr(seg.text);
        break;
      }
      case Segment::Kind::ImageCot:
        last_segment(s)->add_images()->set_chain_of_thought(seg.text);
        break;
      case Segment::Kind::Image: {
        if (img >= o.images.size()) break;
        auto* segp = last_segment(s);
        emu3p5::story::ImageMeta* meta = nullptr;
        if (segp->images_size() > 0 && segp->images(segp->images_size() - 1).image().image_data().empty())
          meta = segp->mutable_images(segp->images_size() - 1);  // the CoT placeholder
        else
          meta = segp->add_images();
        fill_image(meta->mutable_image(), o.images[img++]);
        break;
      }
    }
  }
  // A trailing CoT without its picture is dropped, as upstream does on save.
  for (auto& clip : *s.mutable_clips())
    for (auto& seg : *clip.mutable_segments())
      if (seg.images_size() > 0 && seg.images(seg.images_size() - 1).image().image_data().empty())
        seg.mutable_images()->RemoveLast();
  std::string out;
  if (!s.SerializeToString(&out)) throw Error("could not serialise the Story protobuf");
  return out;
}

}  // namespace emu35::app
