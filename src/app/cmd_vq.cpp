// `emu35 vq-encode` / `emu35 vq-decode`: the IBQ vision tokenizer on its own.
//   vq-encode --vq DIR --image FILE [--image-area N]  -> JSON code grid on stdout
//   vq-decode --vq DIR --codes FILE.json --output out.png
// The JSON is {"height": h, "width": w, "codes": [[...w ids...], ...h rows...]};
// vq-decode reads exactly what vq-encode prints.
#include <filesystem>
#include <iostream>
#include <memory>

#include "app/command.h"
#include "common/error.h"
#include "common/file_util.h"
#include "image/image_format.h"
#include "image/image_read.h"
#include "image/image_write.h"
#include "image/resize.h"
#include "vq/code_grid.h"
#include "vq/ibq_model.h"

namespace fs = std::filesystem;

namespace emu35::app {
namespace {

// Upstream's default image_area (1024 x 1024 pixels).
constexpr int64_t kDefaultImageArea = 1048576;

int run_vq_encode(const std::string& vq_dir, const std::string& image, int64_t area) {
  if (area <= 0) throw Error("--image-area must be positive (got " + std::to_string(area) + ")");
  const vq::IbqModel model = vq::IbqModel::load(vq_dir);
  const Image resized = smart_resize(read_image(image), area);
  const vq::CodeGrid codes = model.encode(resized);
  std::cout << vq::code_grid_to_json(codes) << std::flush;
  return 0;
}

int run_vq_decode(const std::string& vq_dir, const std::string& codes_file, const std::string& output) {
  // Check the output name before spending time decoding.
  const ImageFormat fmt = image_format_from_path(output);
  const vq::IbqModel model = vq::IbqModel::load(vq_dir);
  const vq::CodeGrid codes =
      vq::code_grid_from_json(read_whole_file(codes_file), codes_file, model.config().n_embed);
  write_image(output, model.decode(codes), fmt);
  std::cerr << "wrote " << output << " (" << codes.w * model.downsample_factor() << "x"
            << codes.h * model.downsample_factor() << ")\n";
  return 0;
}

const RegisterCommand reg_encode{
    "vq-encode", "Encode a picture into IBQ vision-tokenizer codes (JSON on stdout)", 80,
    [](CLI::App& sub) -> std::function<int()> {
      auto vq = std::make_shared<std::string>();
      auto image = std::make_shared<std::string>();
      auto area = std::make_shared<int64_t>(kDefaultImageArea);
      sub.add_option("--vq", *vq, "vision tokenizer folder (config.json + model.safetensors, or config.yaml + model.ckpt)")
          ->required();
      sub.add_option("--image", *image, "picture to encode (PNG, JPEG or WebP)")->required();
      sub.add_option("--image-area", *area, "target pixel area for smart_resize (sides become multiples of 16)")
          ->capture_default_str();
      return [=] { return run_vq_encode(*vq, *image, *area); };
    }};

const RegisterCommand reg_decode{
    "vq-decode", "Decode IBQ codes (vq-encode's JSON) into a picture", 81,
    [](CLI::App& sub) -> std::function<int()> {
      auto vq = std::make_shared<std::string>();
      auto codes = std::make_shared<std::string>();
      auto output = std::make_shared<std::string>();
      sub.add_option("--vq", *vq, "vision tokenizer folder (config.json + model.safetensors, or config.yaml + model.ckpt)")
          ->required();
      sub.add_option("--codes", *codes, "JSON file: {\"codes\": [[...], ...]} as vq-encode prints")->required();
      sub.add_option("--output", *output, "output picture (.png, .jpg or .webp)")->required();
      return [=] { return run_vq_decode(*vq, *codes, *output); };
    }};

}  // namespace
}  // namespace emu35::app
