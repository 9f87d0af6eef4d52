#include "app/output_writer.h"

#include <cstdio>

#include "app/request_json.h"
#include "common/file_util.h"
#include "image/image_write.h"

using nlohmann::json;

namespace emu35::app {

namespace {
json codes_json(const Segment& s) {
  json rows = json::array();
  for (int r = 0; r < s.h; ++r)
    rows.push_back(std::vector<int32_t>(s.codes.begin() + static_cast<std::ptrdiff_t>(r) * s.w,
                                        s.codes.begin() + static_cast<std::ptrdiff_t>(r + 1) * s.w));
  return rows;
}
}  // namespace

json output_to_json(const Output& o, const std::vector<std::string>& image_files) {
  const PreparedRequest& p = o.request;
  json refs = json::array();
  for (size_t i = 0; i < p.reference_codes.size(); ++i)
    refs.push_back({{"name", i < p.image_names.size() ? p.image_names[i] : ""},
                    {"height", p.reference_codes[i].h},
                    {"width", p.reference_codes[i].w}});
  json segs = json::array(), texts = json::array(), gcot = json::array(), icot = json::array();
  size_t img = 0;
  for (const Segment& s : o.segments) {
    json j = {{"type", segment_kind_name(s.kind)}};
    if (s.kind == Segment::Kind::Image) {
      j["height"] = s.h;
      j["width"] = s.w;
      j["file"] = img < image_files.size() ? json(image_files[img]) : json(nullptr);
      j["codes"] = codes_json(s);
      ++img;
    } else {
      j["text"] = s.text;
      (s.kind == Segment::Kind::Text ? texts : s.kind == Segment::Kind::GlobalCot ? gcot : icot).push_back(s.text);
    }
    segs.push_back(std::move(j));
  }
  const GenerationResult& r = o.result;
  const double gen_s = r.prefill_seconds + r.decode_seconds;
  json out = {{"prompt", p.prompt},
              {"reference_images", refs},
              {"parameters", params_to_json(p.params)},
              {"prompt_text", p.texts.cond},
              {"prompt_ids", p.gen.prompt_ids},
              {"unconditional_ids", p.gen.uncond_ids},
              {"generated_ids", r.generated_ids},
              {"stop_reason", r.stop_reason},
              {"segments", segs},
              {"text", texts},
              {"global_cot", gcot},
              {"image_cot", icot},
              {"timings",
               {{"vq_encode_seconds", p.vq_encode_seconds},
                {"prefill_seconds", r.prefill_seconds},
                {"decode_seconds", r.decode_seconds},
                {"vq_decode_seconds", o.vq_decode_seconds},
                {"tokens_per_second", gen_s > 0 ? r.generated_ids.size() / gen_s : 0.0}}}};
  if (p.params.image_cfg_scale) out["unconditional_full_ids"] = p.gen.uncond_full_ids;
  if (!r.error.empty()) out["error"] = r.error;
  return out;
}

json write_output_dir(const std::filesystem::path& dir, const Output& o, const OutputFiles& files, const json& extra) {
  std::filesystem::create_directories(dir);
  std::vector<std::string> names;
  char buf[64];
  for (size_t i = 0; i < o.images.size(); ++i) {
    std::snprintf(buf, sizeof buf, "image_%02zu%s", i, std::string(image_format_extension(files.format)).c_str());
    write_image(dir / buf, o.images[i], files.format, files.quality);
    names.push_back(buf);
  }
  size_t n_text = 0, n_g = 0, n_i = 0;
  for (const Segment& s : o.segments) {
    if (s.kind == Segment::Kind::Image) continue;
    size_t& n = s.kind == Segment::Kind::Text ? n_text : s.kind == Segment::Kind::GlobalCot ? n_g : n_i;
    const char* stem = s.kind == Segment::Kind::Text ? "text" : s.kind == Segment::Kind::GlobalCot ? "global_cot" : "image_cot";
    std::snprintf(buf, sizeof buf, "%s_%02zu.txt", stem, n++);
    write_file_atomic(dir / buf, s.text);
  }
  json result = output_to_json(o, names);
  for (auto& [k, v] : extra.items()) result[k] = v;
  write_file_atomic(dir / "result.json", result.dump() + "\n");
  return result;
}

}  // namespace emu35::app
